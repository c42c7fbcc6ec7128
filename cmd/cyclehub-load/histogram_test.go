package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	us := time.Microsecond
	for _, tc := range []struct {
		name    string
		samples []time.Duration
		q       float64
		want    time.Duration
	}{
		{"an empty histogram answers zero", nil, 0.5, 0},
		{"one sample is every quantile", []time.Duration{42 * us}, 0.999, 42 * us},
		{"the median of 1..100µs is 50µs (nearest rank)", rangeUS(1, 100), 0.5, 50 * us},
		{"the p99 of 1..100µs is 99µs", rangeUS(1, 100), 0.99, 99 * us},
		{"the p99.9 of 1..1000µs is 999µs, within a bucket", rangeUS(1, 1000), 0.999, 999 * us},
		{"the p100 is the largest sample, not the top of its bucket", []time.Duration{1, 1000 * us, 1001 * us}, 1, 1001 * us},
		{"negative durations count as zero", []time.Duration{-time.Second}, 0.5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h histogram
			for _, d := range tc.samples {
				h.Record(d)
			}
			if got := h.Quantile(tc.q); got != tc.want {
				t.Fatalf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

// On a wide random distribution every quantile is within the bucket
// precision (1/128) of the exact nearest-rank quantile of the sorted
// samples, and merging per-sender histograms changes nothing.
func TestHistogramAgreesWithSortedSamples(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	var parts [4]histogram
	var all histogram
	samples := make([]time.Duration, 200_000)
	for i := range samples {
		// Log-normal around 2ms with a long tail, up to minutes.
		d := time.Duration(math.Exp(r.NormFloat64()*1.5+math.Log(2000))) * time.Microsecond
		samples[i] = d
		parts[i%4].Record(d)
		all.Record(d)
	}
	var merged histogram
	for i := range parts {
		merged.Merge(&parts[i])
	}
	slices.Sort(samples)
	for _, q := range []float64{0.001, 0.5, 0.9, 0.99, 0.999, 0.9999, 1} {
		exact := samples[int(math.Ceil(q*float64(len(samples))))-1].Truncate(time.Microsecond)
		got := all.Quantile(q)
		if diff := math.Abs(float64(got-exact)) / float64(exact); diff > 1.0/128 {
			t.Errorf("q=%v: %v, exact %v (%.2f%% off)", q, got, exact, diff*100)
		}
		if m := merged.Quantile(q); m != got {
			t.Errorf("q=%v: merged %v, single %v", q, m, got)
		}
	}
	if merged.Count() != uint64(len(samples)) || merged.Max() != all.Max() || merged.Min() != all.Min() || merged.Mean() != all.Mean() {
		t.Errorf("merged count/min/max/mean differ: %d %v %v %v vs %d %v %v %v",
			merged.Count(), merged.Min(), merged.Max(), merged.Mean(), all.Count(), all.Min(), all.Max(), all.Mean())
	}
}

// Buckets tile the values: each value lies in its bucket's range, and
// bucket tops increase.
func TestHistogramBucketsTile(t *testing.T) {
	prev := -1
	for _, v := range []uint64{0, 1, 255, 256, 257, 511, 512, 1 << 20, 1<<20 + 12345, 1 << 40, math.MaxUint64} {
		b := bucketOf(v)
		if b < prev || b >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d after %d (of %d)", v, b, prev, histBuckets)
		}
		if bucketHigh(b) < v || b > 0 && bucketHigh(b-1) >= v {
			t.Fatalf("value %d outside bucket %d (%d, %d]", v, b, bucketHigh(b-1), bucketHigh(b))
		}
		prev = b
	}
}

func rangeUS(from, to int) []time.Duration {
	out := make([]time.Duration, 0, to-from+1)
	for i := from; i <= to; i++ {
		out = append(out, time.Duration(i)*time.Microsecond)
	}
	return out
}
