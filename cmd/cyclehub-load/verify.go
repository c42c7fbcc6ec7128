package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The loss check runs after sending, within --drain, against the daemon's
// PostgreSQL (read only) and the events the stream reader collected.
//
// Records. The store links a request to its effects through the inbox:
// inbox.request_id is the id the 202 returned, and every effect of
// processing it carries inbox.id (timeline.inbox_id, one entry per record
// of the request, unique on (inbox_id, record_index)). The check waits
// until none of the acked requests is pending, then reads, per acked
// request, its inbox row, its status and its timeline entries:
//
//   - lost: no inbox row (the ack was a lie), still pending when the drain
//     ends, or done without a timeline entry;
//   - quarantined: the pipeline could not map it (status quarantined or
//     rejected): counted apart, and a failure too, since the generator
//     sends only requests the mappings read;
//   - duplicated: more timeline entries than records (the same record
//     applied twice), or more than one created/updated event for one
//     customer in the outbox rows the request wrote (a batch applied twice
//     writes its events twice, at two versions);
//   - split: a person (every request the generator made about one person
//     shares that person's email, phone and provider ids) whose entries
//     sit on more than one customer, or on a merged record, where identity
//     resolution should have made one record.
//
// Stream. Every outbox row written since the run began (id above the
// watermark read at the start) whose CloudEvent's data.trigger.request_id
// is an acked request is an event that must be read from the topic at
// least once. The check waits until every one was read, then counts as
// lost each request with an event never read, and each person whose
// requests wrote no event at all (their first request must create the
// customer). A repeat that changes nothing on the record legitimately
// writes no event ("no_event" in the report).

// verifier reads the daemon's PostgreSQL.
type verifier struct {
	conn *pgx.Conn
	// watermark is the largest outbox id before the run.
	watermark int64
}

// openVerifier connects and reads the outbox watermark.
func openVerifier(ctx context.Context, url string) (*verifier, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres url: %w", err)
	}
	cfg.ConnectTimeout = 10 * time.Second
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	v := &verifier{conn: conn}
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM outbox`).Scan(&v.watermark); err != nil {
		_ = conn.Close(ctx)
		return nil, fmt.Errorf("read outbox watermark: %w", err)
	}
	return v, nil
}

func (v *verifier) close(ctx context.Context) { _ = v.conn.Close(ctx) }

// verdict is the outcome of the loss check.
type verdict struct {
	Acked       int `json:"acked"`
	Processed   int `json:"processed"`
	Lost        int `json:"lost"`
	Duplicated  int `json:"duplicated"`
	Quarantined int `json:"quarantined"`
	SplitPeople int `json:"split_people"`
	People      int `json:"people"`
	// Record loss by cause.
	MissingInbox int `json:"missing_inbox"`
	Unprocessed  int `json:"unprocessed"`
	NoTimeline   int `json:"no_timeline"`
	// Stream, when a topic was read.
	Stream *streamVerdict `json:"stream,omitempty"`
	// DrainSeconds is how long the check waited for processing and events.
	DrainSeconds float64 `json:"drain_seconds"`
	// Examples are a few request ids per failure, for a closer look.
	Examples map[string][]string `json:"examples,omitempty"`
}

// streamVerdict is the stream half of the check.
type streamVerdict struct {
	// EventsExpected are the outbox events of acked requests; EventsSeen
	// those read at least once; Redelivered the extra reads.
	EventsExpected int `json:"events_expected"`
	EventsSeen     int `json:"events_seen"`
	Redelivered    int `json:"redelivered"`
	// LostRequests have an event never read; PeopleWithoutEvent are people
	// none of whose requests wrote an event.
	LostRequests       int `json:"lost_requests"`
	PeopleWithoutEvent int `json:"people_without_event"`
	// NoEvent are processed requests that wrote no event (repeats that
	// changed nothing).
	NoEvent int `json:"no_event"`
}

// OK says nothing was lost or duplicated.
func (v *verdict) OK() bool {
	return v.Lost == 0 && v.Duplicated == 0 && v.Quarantined == 0 && v.SplitPeople == 0
}

func (v *verdict) example(kind string, id uuid.UUID) {
	if v.Examples == nil {
		v.Examples = map[string][]string{}
	}
	if len(v.Examples[kind]) < 5 {
		v.Examples[kind] = append(v.Examples[kind], id.String())
	}
}

// recordState is one acked request as the store has it.
type recordState struct {
	status    string
	entries   int
	records   int
	customers []string
	onMerged  bool
}

// outboxEvent is one event an acked request wrote.
type outboxEvent struct {
	id       uuid.UUID
	customer string
	typ      string
}

const idBatch = 5000

// check runs the loss check over acked, waiting until deadline for
// processing and, withStream, for the stream.
func (v *verifier) check(ctx context.Context, acked map[uuid.UUID]ack, track *tracker, withStream bool, deadline time.Time) (*verdict, error) {
	start := time.Now()
	ids := make([]string, 0, len(acked))
	for id := range acked {
		ids = append(ids, id.String())
	}
	slices.Sort(ids)

	// Wait for processing.
	for {
		pending, err := v.pending(ctx, ids)
		if err != nil {
			return nil, err
		}
		if pending == 0 || time.Now().After(deadline) {
			break
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return nil, err
		}
	}
	states, err := v.records(ctx, ids)
	if err != nil {
		return nil, err
	}
	events, err := v.outbox(ctx, acked)
	if err != nil {
		return nil, err
	}

	out := &verdict{Acked: len(acked)}
	processed := map[uuid.UUID]bool{}
	lost := map[uuid.UUID]bool{}
	dup := map[uuid.UUID]bool{}
	type personState struct {
		customers map[string]bool
		onMerged  bool
		events    int
		processed bool
	}
	persons := map[int32]*personState{}
	for id, a := range acked {
		ps := persons[a.person]
		if ps == nil {
			ps = &personState{customers: map[string]bool{}}
			persons[a.person] = ps
		}
		ps.events += len(events[id])
		st, ok := states[id]
		switch {
		case !ok:
			out.MissingInbox++
			lost[id] = true
			out.example("missing_inbox", id)
			continue
		case st.status == "pending":
			out.Unprocessed++
			lost[id] = true
			out.example("unprocessed", id)
			continue
		case st.status == "quarantined" || st.status == "rejected":
			out.Quarantined++
			out.example("quarantined", id)
			continue
		}
		out.Processed++
		processed[id] = true
		ps.processed = true
		if st.entries == 0 {
			out.NoTimeline++
			lost[id] = true
			out.example("no_timeline", id)
		}
		if st.entries > st.records {
			dup[id] = true
			out.example("duplicated", id)
		}
		changes := map[string]int{}
		for _, e := range events[id] {
			if e.typ == "cyclehub.customer.created.v1" || e.typ == "cyclehub.customer.updated.v1" {
				changes[e.customer]++
			}
		}
		for _, n := range changes {
			if n > 1 {
				dup[id] = true
				out.example("duplicated", id)
			}
		}
		for _, c := range st.customers {
			ps.customers[c] = true
		}
		ps.onMerged = ps.onMerged || st.onMerged
	}
	out.People = len(persons)
	for _, ps := range persons {
		if len(ps.customers) > 1 || ps.onMerged {
			out.SplitPeople++
		}
	}

	if withStream {
		sv := &streamVerdict{}
		for {
			sv.EventsSeen, sv.Redelivered = 0, 0
			sv.EventsExpected = 0
			for _, evs := range events {
				for _, e := range evs {
					sv.EventsExpected++
					if n := track.seenCount(e.id); n > 0 {
						sv.EventsSeen++
						sv.Redelivered += int(n - 1)
					}
				}
			}
			if sv.EventsSeen == sv.EventsExpected || time.Now().After(deadline) {
				break
			}
			if err := sleep(ctx, 250*time.Millisecond); err != nil {
				return nil, err
			}
		}
		for id := range acked {
			evs := events[id]
			if len(evs) == 0 && processed[id] {
				sv.NoEvent++
			}
			for _, e := range evs {
				if track.seenCount(e.id) == 0 {
					sv.LostRequests++
					lost[id] = true
					out.example("stream_missing", id)
					break
				}
			}
		}
		for _, ps := range persons {
			if ps.processed && ps.events == 0 {
				sv.PeopleWithoutEvent++
			}
		}
		out.Stream = sv
	}
	out.Lost = len(lost)
	if out.Stream != nil {
		out.Lost += out.Stream.PeopleWithoutEvent
	}
	out.Duplicated = len(dup)
	out.DrainSeconds = time.Since(start).Seconds()
	return out, nil
}

// pending counts the requests of ids still waiting to be processed.
func (v *verifier) pending(ctx context.Context, ids []string) (int, error) {
	total := 0
	for b := range slices.Chunk(ids, idBatch) {
		var n int
		if err := v.conn.QueryRow(ctx, `SELECT count(*) FROM inbox WHERE request_id = ANY($1::uuid[]) AND status = 'pending'`, b).Scan(&n); err != nil {
			return 0, fmt.Errorf("count pending requests: %w", err)
		}
		total += n
	}
	return total, nil
}

// records reads each request's inbox row and timeline entries.
func (v *verifier) records(ctx context.Context, ids []string) (map[uuid.UUID]recordState, error) {
	out := make(map[uuid.UUID]recordState, len(ids))
	for b := range slices.Chunk(ids, idBatch) {
		rows, err := v.conn.Query(ctx, `
			SELECT i.request_id::text, i.status, count(t.id), count(DISTINCT t.record_index),
			       coalesce(array_agg(DISTINCT t.customer_id::text) FILTER (WHERE t.id IS NOT NULL), '{}'),
			       coalesce(bool_or(c.merged_into IS NOT NULL), false)
			FROM inbox i
			LEFT JOIN timeline t ON t.inbox_id = i.id
			LEFT JOIN customers c ON c.id = t.customer_id
			WHERE i.request_id = ANY($1::uuid[])
			GROUP BY i.request_id, i.status`, b)
		if err != nil {
			return nil, fmt.Errorf("read records: %w", err)
		}
		for rows.Next() {
			var id string
			var st recordState
			if err := rows.Scan(&id, &st.status, &st.entries, &st.records, &st.customers, &st.onMerged); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read records: %w", err)
			}
			out[uuid.MustParse(id)] = st
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read records: %w", err)
		}
	}
	return out, nil
}

// outbox reads the events written since the watermark, by acked request.
func (v *verifier) outbox(ctx context.Context, acked map[uuid.UUID]ack) (map[uuid.UUID][]outboxEvent, error) {
	rows, err := v.conn.Query(ctx, `
		SELECT event_id::text, customer_id::text, type,
		       coalesce(convert_from(payload, 'UTF8')::jsonb #>> '{data,trigger,request_id}', '')
		FROM outbox WHERE id > $1`, v.watermark)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	defer rows.Close()
	out := map[uuid.UUID][]outboxEvent{}
	for rows.Next() {
		var e outboxEvent
		var eventID, req string
		if err := rows.Scan(&eventID, &e.customer, &e.typ, &req); err != nil {
			return nil, fmt.Errorf("read outbox: %w", err)
		}
		e.id = uuid.MustParse(eventID)
		id, err := uuid.Parse(req)
		if err != nil {
			continue // not triggered by a request (a sweep, an erasure)
		}
		if _, ok := acked[id]; ok {
			out[id] = append(out[id], e)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return out, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
