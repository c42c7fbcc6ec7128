package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// load says how much to send.
type load struct {
	// rate > 0: open loop, one request due every 1/rate seconds whatever
	// the answers take, at most maxInflight in flight. Latency is measured
	// from when a request was due, so a daemon that slows down is not
	// hidden by the generator slowing down with it.
	rate        float64
	maxInflight int
	// concurrency: closed loop, that many senders each sending its next
	// request when the previous one is answered.
	concurrency int
	// duration and requests bound the run; whichever ends first.
	duration time.Duration
	requests int64
	timeout  time.Duration
}

// lateAfter is how far behind its due time a request may start before it
// counts as late (the generator, not the daemon, could not keep up).
const lateAfter = 10 * time.Millisecond

// sender sends the requests and records the answers.
type sender struct {
	load    load
	client  *http.Client
	sources []*source
	// weights are cumulative: source i is picked for r < weights[i].
	weights []int
	people  *people
	track   *tracker
	// seed is random per run: the people and the delivery ids derive
	// from it, so two runs never send the same delivery.
	seed   uint64
	seq    atomic.Uint64
	issued atomic.Int64
}

// sendResult is what the senders saw.
type sendResult struct {
	Sent    int
	Acked   int
	Elapsed time.Duration
	// Codes counts answers by HTTP status; Errors are requests with no
	// answer (connection refused, timeout), LastError one of them.
	Codes     map[int]int
	Errors    int
	LastError string
	// NoRequestID counts 202s whose body had no request_id.
	NoRequestID int
	// Late counts requests that started more than lateAfter after due;
	// Unsent those that fell due but found no free sender before the end.
	Late     int
	Unsent   int
	BySource map[string]*sourceCount
	Ack      histogram
}

// sourceCount is the traffic of one source.
type sourceCount struct {
	Sent  int `json:"sent"`
	Acked int `json:"acked"`
}

// worker is one sender's private tally, merged at the end.
type worker struct {
	res  sendResult
	r    *rand.Rand
	vals values
}

func newHTTPClient(conns int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// run sends until the duration or the request count is reached (or ctx
// ends), then waits for the requests in flight.
func (s *sender) run(ctx context.Context) *sendResult {
	stopIssuing, cancel := context.WithTimeout(ctx, s.load.duration)
	defer cancel()
	n := s.load.concurrency
	var due chan time.Time
	if s.load.rate > 0 {
		n = s.load.maxInflight
		due = make(chan time.Time) // a due time waits for a free sender, never in a queue
	}
	workers := make([]*worker, n)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{r: rand.New(rand.NewPCG(s.seed, uint64(i)+1))}
		w.res.Codes = map[int]int{}
		w.res.BySource = map[string]*sourceCount{}
		workers[i] = w
		wg.Go(func() {
			if due != nil {
				for at := range due {
					s.one(ctx, w, at)
				}
				return
			}
			for stopIssuing.Err() == nil && s.claim() {
				s.one(ctx, w, time.Now())
			}
		})
	}
	unsent := 0
	if due != nil {
		unsent = s.dispatch(stopIssuing, due)
		close(due)
	}
	wg.Wait()
	out := &sendResult{Codes: map[int]int{}, BySource: map[string]*sourceCount{}, Elapsed: time.Since(s.track.start), Unsent: unsent}
	for _, w := range workers {
		out.merge(&w.res)
	}
	return out
}

// claim takes the next request of the count; false when it is reached.
func (s *sender) claim() bool {
	return s.load.requests <= 0 || s.issued.Add(1) <= s.load.requests
}

// dispatch hands out due times, one every 1/rate, until ctx ends or the
// count is reached. When every sender is busy it blocks, and the requests
// it then hands out are already due: they start late, and their latency
// counts from when they were due. It returns how many requests fell due
// but found no free sender before the end (the in-flight cap shed them).
func (s *sender) dispatch(ctx context.Context, due chan<- time.Time) (unsent int) {
	interval := time.Duration(float64(time.Second) / s.load.rate)
	start := s.track.start
	var i int64
	defer func() {
		// Every slot due before the end that was not handed out.
		planned := int64(s.load.duration / interval)
		if s.load.requests > 0 {
			planned = min(planned, s.load.requests)
		}
		unsent = int(max(planned-i, 0))
	}()
	for ; ; i++ {
		at := start.Add(time.Duration(i) * interval)
		if at.Sub(start) >= s.load.duration || !s.claim() {
			return
		}
		if d := time.Until(at); d > 0 {
			if sleep(ctx, d) != nil {
				return
			}
		}
		select {
		case due <- at:
		case <-ctx.Done():
			return
		}
	}
}

// one sends one request that was due at due.
func (s *sender) one(ctx context.Context, w *worker, due time.Time) {
	now := time.Now()
	if now.Sub(due) > lateAfter {
		w.res.Late++
	}
	src := s.pick(w.r)
	p, repeat := s.people.pick(w.r)
	w.vals.fill(p, s.people.idBase+s.seq.Add(1), now, w.r)
	req, err := s.sources[src].request(ctx, &w.vals, now)
	if err != nil {
		w.res.Errors++
		w.res.LastError = err.Error()
		return
	}
	sc := w.res.BySource[s.sources[src].name]
	if sc == nil {
		sc = &sourceCount{}
		w.res.BySource[s.sources[src].name] = sc
	}
	sc.Sent++
	w.res.Sent++
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() == nil || !errors.Is(err, context.Canceled) {
			w.res.Errors++
			w.res.LastError = err.Error()
		}
		return
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close() // read to the end above: nothing left to report
	took := time.Since(due)
	if err != nil {
		w.res.Errors++
		w.res.LastError = err.Error()
		return
	}
	w.res.Codes[resp.StatusCode]++
	if resp.StatusCode != http.StatusAccepted {
		return
	}
	var out struct {
		RequestID string `json:"request_id"`
	}
	id, perr := uuid.Nil, json.Unmarshal(data, &out)
	if perr == nil {
		id, perr = uuid.Parse(out.RequestID)
	}
	if perr != nil {
		w.res.NoRequestID++
		return
	}
	w.res.Acked++
	sc.Acked++
	w.res.Ack.Record(took)
	s.track.ack(id, ack{sentAt: due.Sub(s.track.start).Nanoseconds(), person: int32(p.Index), source: uint16(src), repeat: repeat})
}

// pick returns a source index by weight.
func (s *sender) pick(r *rand.Rand) int {
	x := r.IntN(s.weights[len(s.weights)-1])
	for i, w := range s.weights {
		if x < w {
			return i
		}
	}
	return len(s.weights) - 1
}

func (r *sendResult) merge(o *sendResult) {
	r.Sent += o.Sent
	r.Acked += o.Acked
	r.Errors += o.Errors
	r.NoRequestID += o.NoRequestID
	r.Late += o.Late
	if o.LastError != "" {
		r.LastError = o.LastError
	}
	for c, n := range o.Codes {
		r.Codes[c] += n
	}
	for name, c := range o.BySource {
		if r.BySource[name] == nil {
			r.BySource[name] = &sourceCount{}
		}
		r.BySource[name].Sent += c.Sent
		r.BySource[name].Acked += c.Acked
	}
	r.Ack.Merge(&o.Ack)
}
