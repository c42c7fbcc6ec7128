package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cyclehub/cyclehub/mapping"
)

// LockCustomers takes the per-identity locks for every identity in ids, in
// one fixed global order, then loads and row-locks (in id order) the
// customers those identities belong to. It returns them by identity key.
//
// Taking every lock a batch needs up front, in a global order (advisory
// locks by key, then customer rows by id), is what keeps concurrent batches
// from deadlocking while still serializing everything about one person.
func (b *Batch) LockCustomers(ctx context.Context, ids []mapping.Identity) (map[string]*mapping.Customer, error) {
	out := map[string]*mapping.Customer{}
	if len(ids) == 0 {
		return out, nil
	}
	keys := make([]int64, 0, len(ids))
	types := make([]string, 0, len(ids))
	values := make([]string, 0, len(ids))
	for _, id := range ids {
		keys = append(keys, lockKey(id.Key()))
		types = append(types, string(id.Type))
		values = append(values, id.Value)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	if _, err := b.tx.Exec(ctx, `SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k`, keys); err != nil {
		return nil, fmt.Errorf("lock identities: %w", err)
	}
	rows, err := b.tx.Query(ctx, `
		SELECT i.type, i.value, `+customerColumns+`
		FROM identities i JOIN customers c ON c.id = i.customer_id
		WHERE (i.type, i.value) IN (SELECT * FROM unnest($1::text[], $2::text[]))
		ORDER BY c.id
		FOR UPDATE OF c`, types, values)
	if err != nil {
		return nil, fmt.Errorf("load customers: %w", err)
	}
	defer rows.Close()
	byID := map[string]*mapping.Customer{}
	for rows.Next() {
		var typ, value string
		c, err := scanCustomer(rows, &typ, &value)
		if err != nil {
			return nil, fmt.Errorf("load customers: %w", err)
		}
		if c.MergedInto != "" {
			// A concurrent batch merged this record after our snapshot read
			// its identity: redo the batch, which then sees the survivor.
			return nil, &writeError{err: fmt.Errorf("customer %s was merged concurrently", c.ID)}
		}
		if existing, ok := byID[c.ID]; ok {
			out[mapping.Identity{Type: mapping.IdentityType(typ), Value: value}.Key()] = existing
			continue
		}
		byID[c.ID] = c
		out[mapping.Identity{Type: mapping.IdentityType(typ), Value: value}.Key()] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load customers: %w", err)
	}
	rows.Close()
	if len(byID) == 0 {
		return out, nil
	}
	// Their tenant user ids: a merge may never give one person two.
	cids := make([]string, 0, len(byID))
	for id := range byID {
		cids = append(cids, id)
	}
	urows, err := b.tx.Query(ctx, `
		SELECT customer_id::text, value FROM identities
		WHERE type = 'user_id' AND customer_id = ANY($1::uuid[]) ORDER BY value`, cids)
	if err != nil {
		return nil, fmt.Errorf("load user ids: %w", err)
	}
	defer urows.Close()
	for urows.Next() {
		var cid, uid string
		if err := urows.Scan(&cid, &uid); err != nil {
			return nil, fmt.Errorf("load user ids: %w", err)
		}
		byID[cid].UserIDs = append(byID[cid].UserIDs, uid)
	}
	if err := urows.Err(); err != nil {
		return nil, fmt.Errorf("load user ids: %w", err)
	}
	return out, nil
}

// lockKey maps an identity key to an advisory lock id. Collisions only make
// two unrelated identities share a lock, which is harmless.
func lockKey(k string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("identity:" + k)) // a hash.Hash never fails to write
	// #nosec G115 -- the hash's 64 bits reinterpreted as a lock id: wrapping is intended
	return int64(h.Sum64())
}

// Write applies a batch's effects with one statement per kind.
func (b *Batch) Write(ctx context.Context, e *mapping.Effects) error {
	steps := []struct {
		name string
		run  func(context.Context, pgx.Tx, *mapping.Effects) error
	}{
		{"customers", writeCustomers},
		// Before the merges, which carry a merged record's stints and
		// referrals, those of this batch included, to its survivor.
		{"stage history", writeStageMoves},
		{"referrals", writeReferrals},
		{"merges", writeMerges},
		{"identities", writeIdentities},
		{"timeline", writeTimeline},
		{"consent", writeConsent},
		{"tickets", writeTickets},
		{"survey responses", writeResponses},
		{"merge conflicts", writeConflicts},
		{"outbox", writeOutbox},
		{"deliveries", func(ctx context.Context, tx pgx.Tx, e *mapping.Effects) error {
			return writeDeliveries(ctx, tx, e, b.routes)
		}},
		{"inbox state", writeInboxState},
	}
	for _, s := range steps {
		if err := s.run(ctx, b.tx, e); err != nil {
			return classify(fmt.Errorf("write %s: %w", s.name, err))
		}
	}
	return nil
}

func writeCustomers(ctx context.Context, tx pgx.Tx, e *mapping.Effects) error {
	if len(e.Customers) == 0 {
		return nil
	}
	n := len(e.Customers)
	ids, traits, consents, scores, signals := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	firsts, lasts, mergedInto, referredBy := make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
	stages, statuses := make([]*string, n), make([]*string, n)
	stageAt := make([]*time.Time, n)
	versions := make([]int64, n)
	referrals := make([]int, n) // pgx range-checks int4
	created, updated := make([]time.Time, n), make([]time.Time, n)
	orNil := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	for i, c := range e.Customers {
		lc := c.Lifecycle
		for _, f := range []struct {
			dst  *string
			v    any
			zero string
		}{{&traits[i], c.Traits, "{}"}, {&consents[i], c.Consent, "{}"}, {&scores[i], lc.Scores, "{}"}, {&signals[i], lc.Signals, "{}"}} {
			b, err := json.Marshal(f.v)
			if err != nil {
				return err
			}
			if string(b) == "null" {
				b = []byte(f.zero)
			}
			*f.dst = string(b)
		}
		var err error
		if firsts[i], err = jsonOrNil(c.FirstTouch); err != nil {
			return err
		}
		if lasts[i], err = jsonOrNil(c.LastTouch); err != nil {
			return err
		}
		ids[i], versions[i], created[i], updated[i] = c.ID, c.Version, c.CreatedAt, c.UpdatedAt
		mergedInto[i], referredBy[i] = orNil(c.MergedInto), orNil(lc.ReferredBy)
		stages[i], statuses[i], referrals[i] = orNil(lc.Stage), orNil(lc.Status), lc.ReferralCount
		if !lc.StageEnteredAt.IsZero() {
			at := lc.StageEnteredAt
			stageAt[i] = &at
		}
	}
	// Survivors are written before the records merged into them (the
	// merged_into reference).
	_, err := tx.Exec(ctx, `
		INSERT INTO customers (id, version, traits, first_touch, last_touch, consent, created_at, updated_at, merged_into, merged_at,
		                       stage, stage_entered_at, customer_status, scores, signals, referred_by, referral_count)
		SELECT id, version, traits::jsonb, first_touch::jsonb, last_touch::jsonb, consent::jsonb, created_at, updated_at,
		       merged_into, CASE WHEN merged_into IS NULL THEN NULL ELSE now() END,
		       stage, stage_entered_at, customer_status, scores::jsonb, signals::jsonb, referred_by, referral_count
		FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
		            $8::timestamptz[], $9::uuid[], $10::text[], $11::timestamptz[], $12::text[], $13::text[], $14::text[],
		            $15::uuid[], $16::int[]) WITH ORDINALITY
		     AS t(id, version, traits, first_touch, last_touch, consent, created_at, updated_at, merged_into,
		          stage, stage_entered_at, customer_status, scores, signals, referred_by, referral_count, o)
		ORDER BY merged_into IS NOT NULL, o
		ON CONFLICT (id) DO UPDATE SET
		     version = EXCLUDED.version, traits = EXCLUDED.traits,
		     first_touch = EXCLUDED.first_touch, last_touch = EXCLUDED.last_touch, consent = EXCLUDED.consent,
		     created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
		     merged_into = EXCLUDED.merged_into, merged_at = coalesce(customers.merged_at, EXCLUDED.merged_at),
		     stage = EXCLUDED.stage, stage_entered_at = EXCLUDED.stage_entered_at, customer_status = EXCLUDED.customer_status,
		     scores = EXCLUDED.scores, signals = EXCLUDED.signals, referred_by = EXCLUDED.referred_by,
		     referral_count = EXCLUDED.referral_count`,
		ids, versions, traits, firsts, lasts, consents, created, updated, mergedInto,
		stages, stageAt, statuses, scores, signals, referredBy, referrals)
	return err
}

func jsonOrNil(t *mapping.Touch) (*string, error) {
	if t == nil {
		return nil, nil
	}
	b, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
}

func writeIdentities(ctx context.Context, tx pgx.Tx, e *mapping.Effects) error {
	if len(e.Identities) == 0 {
		return nil
	}
	n := len(e.Identities)
	types, values, customers, sources := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	seen := make([]time.Time, n)
	for i, l := range e.Identities {
		types[i], values[i], customers[i], sources[i], seen[i] = string(l.Identity.Type), l.Identity.Value, l.CustomerID, l.Source, l.SeenAt
	}
	// Links are unique per (type, value) within a batch (the pipeline folds
	// repeats), so ON CONFLICT never touches a row twice.
	_, err := tx.Exec(ctx, `
		INSERT INTO identities (type, value, customer_id, source, first_seen, last_seen)
		SELECT type, value, customer_id, source, seen, seen
		FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::timestamptz[])
		     AS t(type, value, customer_id, source, seen)
		ON CONFLICT (type, value) DO UPDATE SET
		     last_seen = greatest(identities.last_seen, EXCLUDED.last_seen),
		     first_seen = least(identities.first_seen, EXCLUDED.first_seen)`,
		types, values, customers, sources, seen)
	return err
}

func writeTimeline(ctx context.Context, tx pgx.Tx, e *mapping.Effects) error {
	if len(e.Timeline) == 0 {
		return nil
	}
	n := len(e.Timeline)
	customers, sources, types, props := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	inbox := make([]int64, n)
	records := make([]int, n) // pgx range-checks int4
	at := make([]time.Time, n)
	for i, t := range e.Timeline {
		p, err := json.Marshal(t.Properties)
		if err != nil {
			return err
		}
		if t.Properties == nil {
			p = []byte("{}")
		}
		customers[i], inbox[i], sources[i], types[i], at[i], props[i] = t.CustomerID, t.InboxID, t.Source, t.Type, t.OccurredAt, string(p)
		records[i] = t.RecordIndex
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO timeline (customer_id, inbox_id, record_index, source, type, occurred_at, properties)
		SELECT customer_id, inbox_id, record_index, source, type, occurred_at, properties::jsonb
		FROM unnest($1::uuid[], $2::bigint[], $3::int[], $4::text[], $5::text[], $6::timestamptz[], $7::text[])
		     AS t(customer_id, inbox_id, record_index, source, type, occurred_at, properties)
		ON CONFLICT (inbox_id, record_index) DO NOTHING`,
		customers, inbox, records, sources, types, at, props)
	return err
}

func writeOutbox(ctx context.Context, tx pgx.Tx, e *mapping.Effects) error {
	if len(e.Outbox) == 0 {
		return nil
	}
	n := len(e.Outbox)
	eventIDs, customers, types := make([]string, n), make([]string, n), make([]string, n)
	payloads := make([][]byte, n)
	buckets := make([]int16, n)
	seqs := make([]int64, n)
	times := make([]time.Time, n)
	for i, ev := range e.Outbox {
		p, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		seq, err := strconv.ParseInt(ev.Sequence, 10, 64)
		if err != nil {
			return fmt.Errorf("event %s: sequence %q: %w", ev.ID, ev.Sequence, err)
		}
		eventIDs[i], customers[i], types[i], payloads[i], seqs[i], times[i] = ev.ID, ev.PartitionKey, ev.Type, p, seq, ev.Time
		buckets[i] = Bucket(ev.PartitionKey)
	}
	// Rows are inserted in array order, so outbox ids follow the order the
	// pipeline produced the events in.
	_, err := tx.Exec(ctx, `
		INSERT INTO outbox (event_id, customer_id, bucket, type, sequence, event_time, payload)
		SELECT event_id, customer_id, bucket, type, sequence, event_time, payload
		FROM unnest($1::uuid[], $2::uuid[], $3::smallint[], $4::text[], $5::bigint[], $6::timestamptz[], $7::bytea[])
		     WITH ORDINALITY AS t(event_id, customer_id, bucket, type, sequence, event_time, payload, o)
		ORDER BY o`,
		eventIDs, customers, buckets, types, seqs, times, payloads)
	return err
}

// Bucket is the outbox bucket (0..255) of a customer id.
func Bucket(customerID string) int16 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(customerID)) // a hash.Hash never fails to write
	return int16(h.Sum32() % 256)
}

func writeInboxState(ctx context.Context, tx pgx.Tx, e *mapping.Effects) error {
	if len(e.Done) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE inbox SET status = 'done', processed_at = now(), reason = NULL WHERE id = ANY($1)`, e.Done); err != nil {
			return err
		}
	}
	if len(e.Suppressed) > 0 {
		// About an erased person: the raw payload goes; the row (and its
		// dedup key) stays so a redelivery is still recognized.
		if _, err := tx.Exec(ctx, `
			UPDATE inbox SET body = '', headers = '{}', query = '', fetched = NULL, processed_at = now(),
			       status = CASE WHEN status = 'done' THEN 'done' ELSE 'suppressed' END,
			       reason = 'about an erased person: dropped'
			WHERE id = ANY($1)`, e.Suppressed); err != nil {
			return err
		}
	}
	for _, set := range []struct {
		ds     []mapping.Disposition
		status string
	}{{e.Quarantined, "quarantined"}, {e.Retry, "pending"}} {
		if len(set.ds) == 0 {
			continue
		}
		n := len(set.ds)
		ids, reasons, notBefore := make([]int64, n), make([]string, n), make([]time.Time, n)
		for i, d := range set.ds {
			ids[i], reasons[i], notBefore[i] = d.InboxID, d.Reason, d.NotBefore
		}
		if _, err := tx.Exec(ctx, `
			UPDATE inbox SET status = $4, reason = t.reason, attempts = inbox.attempts + 1,
			       not_before = t.not_before, processed_at = CASE WHEN $4 = 'pending' THEN NULL ELSE now() END
			FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) AS t(id, reason, not_before)
			WHERE inbox.id = t.id`, ids, reasons, notBefore, set.status); err != nil {
			return err
		}
	}
	return nil
}
