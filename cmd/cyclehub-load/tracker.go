package main

import (
	"sync"
	"time"

	"github.com/google/uuid"
)

// ack is what is remembered of an acknowledged request (about 40 bytes a
// request: the loss check needs every one, so memory grows with the run).
type ack struct {
	// sentAt is when the request was due (rate mode) or sent (concurrency
	// mode), in nanoseconds since the run's start.
	sentAt int64
	person int32
	source uint16
	repeat bool
}

// tracker joins acks with the events read from the stream. Either may come
// first: a fast pipeline can publish an event before its sender has read
// the ack, so arrivals are kept by request id whether or not the request is
// known yet.
type tracker struct {
	start time.Time

	mu    sync.Mutex
	acked map[uuid.UUID]ack
	// firstEvent is when the first event of each request arrived.
	firstEvent map[uuid.UUID]int64
	// seen counts deliveries of each event id.
	seen map[uuid.UUID]uint32
}

func newTracker(start time.Time) *tracker {
	return &tracker{start: start, acked: map[uuid.UUID]ack{}, firstEvent: map[uuid.UUID]int64{}, seen: map[uuid.UUID]uint32{}}
}

// acked records an acknowledged request.
func (t *tracker) ack(id uuid.UUID, a ack) {
	t.mu.Lock()
	t.acked[id] = a
	t.mu.Unlock()
}

// event records one event read from the stream at at; requestID is the
// uuid.Nil for events no request triggered (the sweeper's).
func (t *tracker) event(eventID, requestID uuid.UUID, at time.Time) {
	ns := at.Sub(t.start).Nanoseconds()
	t.mu.Lock()
	t.seen[eventID]++
	if requestID != uuid.Nil {
		if _, ok := t.firstEvent[requestID]; !ok {
			t.firstEvent[requestID] = ns
		}
	}
	t.mu.Unlock()
}

// seenCount returns how many times eventID was read.
func (t *tracker) seenCount(eventID uuid.UUID) uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seen[eventID]
}

// snapshot returns a copy of the acked requests.
func (t *tracker) snapshot() map[uuid.UUID]ack {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[uuid.UUID]ack, len(t.acked))
	for k, v := range t.acked {
		out[k] = v
	}
	return out
}

// streamLatency returns, over the acked requests whose events were read,
// the time from sending to the first event.
func (t *tracker) streamLatency() *histogram {
	h := &histogram{}
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, a := range t.acked {
		if at, ok := t.firstEvent[id]; ok {
			h.Record(time.Duration(at - a.sentAt))
		}
	}
	return h
}
