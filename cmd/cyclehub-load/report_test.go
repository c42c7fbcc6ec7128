package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// sampleReport is a run with one of each failure, so every line of the
// table shows.
func sampleReport() *report {
	var ack, kafka histogram
	for i := 1; i <= 1000; i++ {
		ack.Record(time.Duration(i) * 10 * time.Microsecond)
		kafka.Record(time.Duration(i) * 100 * time.Microsecond)
	}
	res := &sendResult{
		Sent: 1010, Acked: 1000, Elapsed: 2 * time.Second, Codes: map[int]int{202: 1000, 401: 2, 503: 8},
		Errors: 1, LastError: "dial tcp 127.0.0.1:8080: connect: connection refused", Late: 3, Unsent: 5,
		BySource: map[string]*sourceCount{"form": {Sent: 600, Acked: 595}, "typeform": {Sent: 409, Acked: 405}},
	}
	kl := latencyOf(&kafka)
	loss := &verdict{
		Acked: 1000, Processed: 998, Lost: 2, Duplicated: 1, Quarantined: 1, SplitPeople: 0, People: 820,
		Unprocessed: 1, NoTimeline: 1, DrainSeconds: 1.25,
		Stream:   &streamVerdict{EventsExpected: 2400, EventsSeen: 2400, Redelivered: 4, NoEvent: 35},
		Examples: map[string][]string{"unprocessed": {"01900000-0000-7000-8000-000000000001"}},
	}
	return &report{
		Run: runInfo{URL: "http://127.0.0.1:8080", Mode: "rate", Rate: 500, MaxInflight: 1024, Duration: "2s",
			Mix: map[string]int{"form": 20, "typeform": 12}, RepeatShare: 0.2, RunTag: "3fa9c"},
		Requests:      requestsOf(res, 820),
		AckLatency:    latencyOf(&ack),
		StreamLatency: &kl,
		Loss:          loss,
		OK:            loss.OK(),
	}
}

func TestReportFormats(t *testing.T) {
	rep := sampleReport()
	for _, tc := range []struct {
		golden string
		write  func(*report, *bytes.Buffer) error
	}{
		{"report_table.golden", func(r *report, b *bytes.Buffer) error { return r.writeTable(b) }},
		{"report_json.golden", func(r *report, b *bytes.Buffer) error { return r.writeJSON(b) }},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(rep, &b); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Fatalf("output differs from %s (run with -update after checking):\n%s", path, b.String())
			}
		})
	}
}

// The JSON is what machines read: the figures sit at stable paths.
func TestReportJSONFields(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().writeJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got struct {
		OK       bool `json:"ok"`
		Requests struct {
			Acked      int     `json:"acked"`
			Throughput float64 `json:"throughput_acked_per_second"`
			Status     map[string]int
		} `json:"requests"`
		Ack   latency `json:"ack_latency_ms"`
		Kafka latency `json:"webhook_to_kafka_latency_ms"`
		Loss  struct {
			Lost, Duplicated int
		} `json:"loss_check"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.OK || got.Requests.Acked != 1000 || got.Requests.Throughput != 500 || got.Loss.Lost != 2 || got.Loss.Duplicated != 1 {
		t.Errorf("ok/acked/throughput/lost/duplicated = %v %d %v %d %d", got.OK, got.Requests.Acked, got.Requests.Throughput, got.Loss.Lost, got.Loss.Duplicated)
	}
	if s := got.Requests.Status; s["2xx"] != 1000 || s["4xx"] != 2 || s["5xx"] != 8 || s["503_backpressure"] != 8 || s["no_answer"] != 1 {
		t.Errorf("status = %v", s)
	}
	// 1..1000 × 10µs: p50 5ms, p99 9.9ms, p99.9 9.99ms, each reported as
	// the top of its bucket (at most 1/128 above).
	within := func(got, exact float64) bool { return got >= exact && got <= exact*(1+1.0/128) }
	if !within(got.Ack.P50, 5) || !within(got.Ack.P99, 9.9) || !within(got.Ack.P999, 9.99) || got.Ack.Max != 10 || got.Kafka.Count != 1000 {
		t.Errorf("ack = %+v, kafka = %+v", got.Ack, got.Kafka)
	}
}
