//go:build drills

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The drills' load: senders of form webhooks that remember every
// message they sent and how each ended (drills_test.go).

// drillMsg is one logical webhook: one body, sent until it is acked. A
// 503 or a lost connection is retried later with the same bytes, as a
// provider retries, so the form source's content-hash dedup key stays
// the same.
type drillMsg struct {
	token, email string
	body         string
	requestID    string // from the 202
	acked        bool   // 202, or 200 duplicate (an earlier attempt was stored)
	after503     bool   // acked after at least one 503
	attempts     int
	last         string // how the last attempt ended, for abandoned messages
}

// drillSend is one delivery a sender owes: a message until it is acked,
// or the redelivery of an acked one.
type drillSend struct {
	m          *drillMsg
	redelivery bool
	due        time.Time
}

// drillMaxOwed bounds the retries a sender keeps waiting; with that many
// it sends nothing new (an outage would otherwise pile up thousands).
const drillMaxOwed = 16

// drillLoad is several senders posting form webhooks: every other
// message is for a new person, the others for people of a shared pool
// (concurrent updates of one person), and every fifth acked message is
// delivered again, as providers do, and must be answered duplicate. Like
// a provider, a sender retries each unacked message on its own schedule
// while it goes on sending new ones.
type drillLoad struct {
	prefix  string
	addr    string
	pool    int
	pace    time.Duration
	client  *http.Client
	stop    chan struct{}
	giveUp  atomic.Int64 // unix nanos: retries stop after it (set by finish)
	wg      sync.WaitGroup
	started time.Time
	took    time.Duration

	mu         sync.Mutex
	msgs       []*drillMsg
	unexpected []string
	ackTimes   []time.Time // when each 202 was read

	accepted, stored, redelivered, unavailable, inFlight, connErrs atomic.Int64
}

// startLoad starts senders posting to addr (host:port) until finish,
// each pausing pace between requests.
func startLoad(t *testing.T, addr, prefix string, senders, pool int, pace time.Duration) *drillLoad {
	t.Helper()
	l := &drillLoad{prefix: prefix, addr: addr, pool: pool, pace: pace,
		client: &http.Client{Timeout: 10 * time.Second}, stop: make(chan struct{}), started: time.Now()}
	for w := range senders {
		l.wg.Go(func() { l.send(w) })
	}
	t.Cleanup(func() { l.finish(0) }) // a drill that failed early still stops its senders
	return l
}

// finish stops new messages, lets the senders retry the ones they owe
// for at most drain, and waits for them. Calling it again does nothing.
func (l *drillLoad) finish(drain time.Duration) {
	select {
	case <-l.stop:
		return
	default:
	}
	l.giveUp.Store(time.Now().Add(drain).UnixNano())
	close(l.stop)
	l.wg.Wait()
	l.took = time.Since(l.started)
}

func (l *drillLoad) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

func (l *drillLoad) send(w int) {
	var owed []*drillSend
	acks := 0
	for i := 0; ; {
		if l.stopped() && (len(owed) == 0 || time.Now().UnixNano() > l.giveUp.Load()) {
			return
		}
		var s *drillSend
		for k, o := range owed { // a retry that is due first
			if !time.Now().Before(o.due) {
				s, owed = o, slices.Delete(owed, k, k+1)
				break
			}
		}
		if s == nil {
			if l.stopped() || len(owed) >= drillMaxOwed {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			s = &drillSend{m: l.newMsg(w, i)}
			i++
		}
		retry, again := l.attempt(s)
		if again {
			s.due = time.Now().Add(retry)
			owed = append(owed, s)
		} else if s.m.acked && !s.redelivery {
			if acks++; acks%5 == 0 {
				owed = append(owed, &drillSend{m: s.m, redelivery: true, due: time.Now()})
			}
		}
		time.Sleep(l.pace)
	}
}

func (l *drillLoad) newMsg(w, i int) *drillMsg {
	email := fmt.Sprintf("%s-n%d-%d@example.com", l.prefix, w, i)
	if i%2 == 1 {
		email = fmt.Sprintf("%s-p%d@example.com", l.prefix, (w*7+i)%l.pool)
	}
	m := &drillMsg{token: fmt.Sprintf("%s-%d-%d", l.prefix, w, i), email: email}
	m.body = url.Values{"email": {email}, "job_title": {m.token}}.Encode()
	l.mu.Lock()
	l.msgs = append(l.msgs, m)
	l.mu.Unlock()
	return m
}

// attempt posts once; again says to retry after retry.
func (l *drillLoad) attempt(s *drillSend) (retry time.Duration, again bool) {
	m := s.m
	m.attempts++
	resp, err := l.client.Post("http://"+l.addr+"/hooks/form", "application/x-www-form-urlencoded", strings.NewReader(m.body))
	if err != nil {
		l.connErrs.Add(1)
		m.last = "connection error: " + err.Error()
		return 100 * time.Millisecond, true // the daemon is gone or restarting
	}
	var out struct {
		Status    string `json:"status"`
		RequestID string `json:"request_id"`
		Error     string `json:"error"`
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_ = json.Unmarshal(b, &out)
	m.last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
	switch {
	case resp.StatusCode == http.StatusAccepted && s.redelivery:
		l.failf("the redelivery of acked message %s was accepted again (request %s, first %s)", m.token, out.RequestID, m.requestID)
	case resp.StatusCode == http.StatusAccepted:
		m.requestID, m.acked = out.RequestID, true
		l.accepted.Add(1)
		l.mu.Lock()
		l.ackTimes = append(l.ackTimes, time.Now())
		l.mu.Unlock()
	case resp.StatusCode == http.StatusOK && out.Status == "duplicate":
		if s.redelivery {
			l.redelivered.Add(1)
		} else {
			// An earlier attempt was stored, its answer lost (a kill, a
			// timeout, a commit whose acknowledgement PostgreSQL never
			// sent): stored is an ack.
			m.acked = true
			l.stored.Add(1)
		}
	case resp.StatusCode == http.StatusServiceUnavailable:
		if out.Error == "delivery_in_flight" {
			l.inFlight.Add(1)
		} else {
			l.unavailable.Add(1)
		}
		m.after503 = true
		// Retry-After says 1 or 5 s; a drill honours at most 500 ms of
		// it, so retries keep up the pressure.
		retry = 500 * time.Millisecond
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			retry = min(retry, time.Duration(s)*time.Second)
		}
		return retry, true
	default:
		l.failf("message %s: unexpected answer %s", m.token, m.last)
	}
	return 0, false
}

func (l *drillLoad) failf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unexpected = append(l.unexpected, fmt.Sprintf(format, args...))
}

// ackedCount is how many messages were acked so far (202 or stored).
func (l *drillLoad) ackedCount() int64 { return l.accepted.Load() + l.stored.Load() }

// summary describes the load's outcome in one line.
func (l *drillLoad) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	abandoned, after503 := 0, 0
	for _, m := range l.msgs {
		switch {
		case !m.acked:
			abandoned++
		case m.after503:
			after503++
		}
	}
	return fmt.Sprintf("%d messages in %s (%.0f acks/s): %d answered 202, %d answered duplicate after a lost answer, "+
		"%d acked after a 503, %d redeliveries answered duplicate, %d 503 storage_unavailable or overloaded, %d 503 delivery_in_flight, "+
		"%d connection errors, %d never acked",
		len(l.msgs), l.took.Round(100*time.Millisecond), float64(l.accepted.Load())/l.took.Seconds(),
		l.accepted.Load(), l.stored.Load(), after503, l.redelivered.Load(), l.unavailable.Load(), l.inFlight.Load(),
		l.connErrs.Load(), abandoned)
}

// acksBetween counts the 202s read in [from, to).
func (l *drillLoad) acksBetween(from, to time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, at := range l.ackTimes {
		if !at.Before(from) && at.Before(to) {
			n++
		}
	}
	return n
}

// longestAckGap is the longest time between two consecutive 202s.
func (l *drillLoad) longestAckGap() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	times := slices.Clone(l.ackTimes)
	slices.SortFunc(times, time.Time.Compare)
	var gap time.Duration
	for i := 1; i < len(times); i++ {
		gap = max(gap, times[i].Sub(times[i-1]))
	}
	return gap
}
