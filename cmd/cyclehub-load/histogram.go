package main

import (
	"math"
	"math/bits"
	"time"
)

// histogram records durations in microseconds in log-linear buckets, the
// way HdrHistogram does: values below 2^subBits are exact, and every
// power-of-two range above is split into 2^(subBits-1) equal buckets, so a
// quantile is within 1/2^(subBits-1) (0.8%) of the true value whatever the
// number of samples. Memory is fixed (about 58 KiB). The zero value is
// ready to use; a histogram is not safe for concurrent use (each sender
// owns one, and they are merged at the end).
type histogram struct {
	counts     [histBuckets]uint64
	n          uint64
	sum        uint64
	minV, maxV uint64
}

const (
	subBits     = 8
	subCount    = 1 << subBits // exact values below this
	halfCount   = subCount / 2 // buckets per power of two above it
	histBuckets = subCount + (64-subBits)*halfCount
)

// bucketOf returns the bucket index of v.
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits // ≥ 1
	return subCount + (shift-1)*halfCount + int(v>>shift) - halfCount
}

// bucketHigh returns the largest value that falls in bucket i.
func bucketHigh(i int) uint64 {
	if i < subCount {
		return uint64(i)
	}
	shift := (i-subCount)/halfCount + 1
	m := uint64((i-subCount)%halfCount + halfCount)
	return (m+1)<<shift - 1
}

// Record adds one duration (negative ones count as zero).
func (h *histogram) Record(d time.Duration) {
	v := uint64(max(d, 0) / time.Microsecond)
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.minV {
		h.minV = v
	}
	h.maxV = max(h.maxV, v)
	h.n++
	h.sum += v
}

// Merge adds every sample of o.
func (h *histogram) Merge(o *histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.minV < h.minV {
		h.minV = o.minV
	}
	h.maxV = max(h.maxV, o.maxV)
	h.n += o.n
	h.sum += o.sum
}

// Count is the number of samples.
func (h *histogram) Count() uint64 { return h.n }

// Quantile returns the value at quantile q (0 < q ≤ 1): the smallest
// recorded value v such that at least q of the samples are ≤ v, reported as
// the top of its bucket (never above the largest sample). Zero when empty.
func (h *histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketHigh(i), h.maxV)) * time.Microsecond
		}
	}
	return time.Duration(h.maxV) * time.Microsecond
}

// Max is the largest sample, Min the smallest, Mean the average.
func (h *histogram) Max() time.Duration { return time.Duration(h.maxV) * time.Microsecond }

func (h *histogram) Min() time.Duration { return time.Duration(h.minV) * time.Microsecond }

func (h *histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum/h.n) * time.Microsecond
}
