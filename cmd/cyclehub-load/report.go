package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// report is everything a run measured: the JSON output as is, and the
// source of the table.
type report struct {
	Run      runInfo       `json:"run"`
	Requests requestReport `json:"requests"`
	// AckLatency is from due (rate) or sent (concurrency) to the 202.
	AckLatency latency `json:"ack_latency_ms"`
	// StreamLatency is from due or sent to the first event of the request
	// read from the topic; absent without --kafka.
	StreamLatency *latency `json:"webhook_to_kafka_latency_ms,omitempty"`
	// Loss is the loss check; absent with --verify=false.
	Loss *verdict `json:"loss_check,omitempty"`
	// OK is false when anything was lost or duplicated.
	OK bool `json:"ok"`
}

// runInfo is what was asked for.
type runInfo struct {
	URL         string         `json:"url"`
	Mode        string         `json:"mode"` // rate or concurrency
	Rate        float64        `json:"rate_per_second,omitempty"`
	MaxInflight int            `json:"max_inflight,omitempty"`
	Concurrency int            `json:"concurrency,omitempty"`
	Duration    string         `json:"duration"`
	Requests    int64          `json:"requests,omitempty"`
	Mix         map[string]int `json:"mix"`
	RepeatShare float64        `json:"repeat_share"`
	// RunTag is in every email of the run (<name>.<tag><n>@example.…),
	// to find its customers.
	RunTag string `json:"run_tag"`
}

// requestReport is what the daemon answered.
type requestReport struct {
	Sent           int     `json:"sent"`
	Acked          int     `json:"acked"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	// Throughput is acked requests per second.
	Throughput float64        `json:"throughput_acked_per_second"`
	Status     statusCounts   `json:"status"`
	Codes      map[string]int `json:"codes"`
	// Late are requests that started more than 10ms after they were due:
	// the generator fell behind (rate mode).
	Late int `json:"late_starts"`
	// Unsent are requests that fell due but found every sender busy
	// (--max-inflight) until the end: load the generator could not offer.
	Unsent      int                     `json:"unsent_at_inflight_cap"`
	NoRequestID int                     `json:"acks_without_request_id"`
	People      int                     `json:"people"`
	BySource    map[string]*sourceCount `json:"by_source"`
	LastError   string                  `json:"last_error,omitempty"`
}

// statusCounts are the answers by class; 503 (backpressure: storage
// unavailable or a delivery in flight) is also part of 5xx.
type statusCounts struct {
	S2xx         int `json:"2xx"`
	S4xx         int `json:"4xx"`
	S5xx         int `json:"5xx"`
	Backpressure int `json:"503_backpressure"`
	NoAnswer     int `json:"no_answer"`
}

// latency is a distribution in milliseconds.
type latency struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
}

func latencyOf(h *histogram) latency {
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Millisecond)*1000) / 1000 }
	return latency{Count: h.Count(), P50: ms(h.Quantile(0.5)), P99: ms(h.Quantile(0.99)), P999: ms(h.Quantile(0.999)),
		Max: ms(h.Max()), Mean: ms(h.Mean())}
}

// requestsOf summarizes the senders' result.
func requestsOf(res *sendResult, people int) requestReport {
	out := requestReport{
		Sent: res.Sent, Acked: res.Acked, ElapsedSeconds: math.Round(res.Elapsed.Seconds()*1000) / 1000,
		Codes: map[string]int{}, Late: res.Late, Unsent: res.Unsent, NoRequestID: res.NoRequestID, People: people,
		BySource: res.BySource, LastError: res.LastError,
	}
	if res.Elapsed > 0 {
		out.Throughput = math.Round(float64(res.Acked)/res.Elapsed.Seconds()*10) / 10
	}
	for code, n := range res.Codes {
		out.Codes[strconv.Itoa(code)] = n
		switch {
		case code >= 200 && code < 300:
			out.Status.S2xx += n
		case code >= 400 && code < 500:
			out.Status.S4xx += n
		case code >= 500:
			out.Status.S5xx += n
		}
		if code == 503 {
			out.Status.Backpressure += n
		}
	}
	out.Status.NoAnswer = res.Errors
	return out
}

// writeJSON writes the report as one indented JSON document.
func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeTable writes the report for a person to read.
func (r *report) writeTable(w io.Writer) error {
	var b strings.Builder
	run := r.Run
	how := fmt.Sprintf("rate %g/s (at most %d in flight)", run.Rate, run.MaxInflight)
	if run.Mode == "concurrency" {
		how = fmt.Sprintf("concurrency %d", run.Concurrency)
	}
	limit := "for " + run.Duration
	if run.Requests > 0 {
		limit = fmt.Sprintf("for %d requests (at most %s)", run.Requests, run.Duration)
	}
	fmt.Fprintf(&b, "cyclehub-load: %s %s against %s\n", how, limit, run.URL)
	fmt.Fprintf(&b, "mix: %s; repeat share %.2f; run tag %s\n\n", mixString(run.Mix), run.RepeatShare, run.RunTag)

	q := r.Requests
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "requests\tsent\tacked\tseconds\tacked/s\tpeople\tlate starts\tunsent (cap)\t\n")
	fmt.Fprintf(tw, "\t%d\t%d\t%.2f\t%.1f\t%d\t%d\t%d\t\n", q.Sent, q.Acked, q.ElapsedSeconds, q.Throughput, q.People, q.Late, q.Unsent)
	fmt.Fprintf(tw, "answers\t2xx\t4xx\t5xx\t503 backpressure\tno answer\t\t\t\n")
	fmt.Fprintf(tw, "\t%d\t%d\t%d\t%d\t%d\t\t\t\n", q.Status.S2xx, q.Status.S4xx, q.Status.S5xx, q.Status.Backpressure, q.Status.NoAnswer)
	fmt.Fprintf(tw, "latency (ms)\tcount\tp50\tp99\tp99.9\tmax\tmean\t\t\n")
	row := func(name string, l latency) {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\t\n", name, l.Count, l.P50, l.P99, l.P999, l.Max, l.Mean)
	}
	row("ack", r.AckLatency)
	if r.StreamLatency != nil {
		row("webhook→kafka", *r.StreamLatency)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(q.Codes) > 0 {
		codes := make([]string, 0, len(q.Codes))
		for c := range q.Codes {
			codes = append(codes, c)
		}
		slices.Sort(codes)
		var parts []string
		for _, c := range codes {
			parts = append(parts, fmt.Sprintf("%s×%d", c, q.Codes[c]))
		}
		fmt.Fprintf(&b, "codes: %s\n", strings.Join(parts, " "))
	}
	if q.NoRequestID > 0 {
		fmt.Fprintf(&b, "acks without a request_id: %d\n", q.NoRequestID)
	}
	if q.LastError != "" {
		fmt.Fprintf(&b, "last error: %s\n", q.LastError)
	}

	b.WriteString("\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "source\tsent\tacked\t\n")
	names := make([]string, 0, len(q.BySource))
	for n := range q.BySource {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(tw, "%s\t%d\t%d\t\n", n, q.BySource[n].Sent, q.BySource[n].Acked)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if v := r.Loss; v != nil {
		fmt.Fprintf(&b, "\nloss check (drained in %.1fs)\n", v.DrainSeconds)
		fmt.Fprintf(&b, "  records: acked %d, processed %d, people %d\n", v.Acked, v.Processed, v.People)
		fmt.Fprintf(&b, "           lost %d (no inbox row %d, unprocessed %d, no timeline entry %d), duplicated %d, quarantined %d, split people %d\n",
			v.Lost, v.MissingInbox, v.Unprocessed, v.NoTimeline, v.Duplicated, v.Quarantined, v.SplitPeople)
		if s := v.Stream; s != nil {
			fmt.Fprintf(&b, "  stream:  events expected %d, seen %d, redelivered %d; requests with an unseen event %d, people without an event %d, requests without an event %d\n",
				s.EventsExpected, s.EventsSeen, s.Redelivered, s.LostRequests, s.PeopleWithoutEvent, s.NoEvent)
		}
		kinds := make([]string, 0, len(v.Examples))
		for k := range v.Examples {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		for _, k := range kinds {
			fmt.Fprintf(&b, "  e.g. %s: %s\n", k, strings.Join(v.Examples[k], " "))
		}
	}
	fmt.Fprintf(&b, "\nresult: %s\n", r.result())
	_, err := io.WriteString(w, b.String())
	return err
}

// result is the one-line verdict of the table.
func (r *report) result() string {
	switch {
	case r.OK:
		return "OK"
	case r.Requests.Acked == 0:
		return "FAILED: no request was acked"
	default:
		return "FAILED: requests lost or duplicated"
	}
}

// mixString lists the mix by weight, largest first.
func mixString(mix map[string]int) string {
	names := make([]string, 0, len(mix))
	for n := range mix {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		if mix[a] != mix[b] {
			return mix[b] - mix[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d", n, mix[n])
	}
	return strings.Join(parts, ",")
}
