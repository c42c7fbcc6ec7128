package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cyclehub/cyclehub/mapping"
)

// ErrErased means the customer was erased on request.
var ErrErased = errors.New("erased")

// Erasure says what erasing a person did.
type Erasure struct {
	// CustomerID is the record erased (the survivor when the id given was
	// merged), RecordIDs every record of the person (merged ones too).
	CustomerID string   `json:"customer_id"`
	RecordIDs  []string `json:"record_ids"`
	// Suppressed counts identifiers put on the suppression list.
	Suppressed int `json:"identifiers_suppressed"`
	// Payloads counts raw requests wiped.
	Payloads int64 `json:"raw_payloads_wiped"`
}

// Erase removes a person (DOMAIN.md, Privacy): every record of theirs
// (the one named, its survivor if it was merged, and every record merged
// into them) keeps only its id and version; identities, timeline, tickets,
// survey responses and consent are deleted; the raw requests they came in,
// and any other kept request that names one of their email addresses, are
// wiped; their identifiers' keyed hashes go on the suppression list; and
// an erased.v1 event per record replaces their events in the outbox
// (published ones are on the stream already; those not yet published are
// dropped: consumers see erased.v1 next on the key). It takes the
// same identity locks as the pipeline, so a webhook processed at the same
// moment either lands before (and is erased) or after (and is suppressed).
// ErrNotFound when there is no such customer.
func (s *Store) Erase(ctx context.Context, id string, key []byte, now time.Time) (*Erasure, error) {
	if !validUUID(id) {
		return nil, ErrNotFound
	}
	// A merge or a new identifier committed between reading the person and
	// locking them would escape the erasure: the person is read again under
	// the locks, and the erasure starts over when it moved.
	for attempt := 0; ; attempt++ {
		out, err := s.eraseOnce(ctx, id, key, now)
		if !errors.Is(err, errPersonMoved) || attempt == 4 {
			return out, err
		}
	}
}

// errPersonMoved: the person's records or identifiers changed while the
// erasure took its locks.
var errPersonMoved = errors.New("the person's records changed during the erasure")

// person is what an erasure covers: the record holding the person (the
// end of id's merge chain), every record merged into it, their identities.
type person struct {
	root    string
	cluster []string
	ids     []mapping.Identity
}

func (p person) same(q person) bool {
	return p.root == q.root && slices.Equal(p.cluster, q.cluster) && slices.Equal(p.ids, q.ids)
}

func readPerson(ctx context.Context, tx pgx.Tx, id string) (person, error) {
	var p person
	err := tx.QueryRow(ctx, `
		WITH RECURSIVE chain(id, merged_into, depth) AS (
		    SELECT id, merged_into, 0 FROM customers WHERE id = $1
		    UNION ALL
		    SELECT c.id, c.merged_into, chain.depth + 1 FROM customers c JOIN chain ON c.id = chain.merged_into
		    WHERE chain.depth < 64
		)
		SELECT coalesce((SELECT id::text FROM chain WHERE merged_into IS NULL ORDER BY depth DESC LIMIT 1), '')`, id).Scan(&p.root)
	if err != nil || p.root == "" {
		return p, err
	}
	rows, err := tx.Query(ctx, `
		WITH RECURSIVE tree(id) AS (
		    SELECT id FROM customers WHERE id = $1
		    UNION
		    SELECT c.id FROM customers c JOIN tree ON c.merged_into = tree.id
		)
		SELECT id::text FROM tree ORDER BY id`, p.root)
	if err != nil {
		return p, err
	}
	if p.cluster, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return p, err
	}
	rows, err = tx.Query(ctx, `SELECT type, value FROM identities WHERE customer_id = ANY($1::uuid[]) ORDER BY type, value`, p.cluster)
	if err != nil {
		return p, err
	}
	p.ids, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (mapping.Identity, error) {
		var i mapping.Identity
		return i, r.Scan(&i.Type, &i.Value)
	})
	return p, err
}

func (s *Store) eraseOnce(ctx context.Context, id string, key []byte, now time.Time) (*Erasure, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	p, err := readPerson(ctx, tx, id)
	if err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}
	if p.root == "" {
		return nil, ErrNotFound
	}
	// The pipeline's lock order: identity advisory locks, then customer rows.
	locks := make([]int64, 0, len(p.ids))
	for _, i := range p.ids {
		locks = append(locks, lockKey(i.Key()))
	}
	slices.Sort(locks)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k`, slices.Compact(locks)); err != nil {
		return nil, fmt.Errorf("erase: lock identities: %w", err)
	}
	type record struct {
		id      string
		version int64
		erased  bool
	}
	var recs []record
	rows, err := tx.Query(ctx, `SELECT id::text, version, erased_at IS NOT NULL FROM customers WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`, p.cluster)
	if err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}
	for rows.Next() {
		var r record
		if err := rows.Scan(&r.id, &r.version, &r.erased); err != nil {
			rows.Close()
			return nil, fmt.Errorf("erase: %w", err)
		}
		recs = append(recs, r)
	}
	rows.Close()
	if again, err := readPerson(ctx, tx, id); err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	} else if !again.same(p) {
		return nil, errPersonMoved
	}
	root, cluster, ids := p.root, p.cluster, p.ids

	out := &Erasure{CustomerID: root, RecordIDs: cluster}
	hashes := make([][]byte, 0, len(ids))
	for _, i := range ids {
		hashes = append(hashes, mapping.SuppressionHash(key, i))
	}
	tag, err := tx.Exec(ctx, `INSERT INTO suppressions (hash) SELECT unnest($1::bytea[]) ON CONFLICT DO NOTHING`, hashes)
	if err != nil {
		return nil, fmt.Errorf("erase: suppress: %w", err)
	}
	out.Suppressed = int(tag.RowsAffected())

	// Raw requests: those the person's records came from, and any other
	// kept request naming one of their email addresses (as sent, or
	// URL-encoded in a form body).
	var patterns []string
	for _, i := range ids {
		if i.Type == mapping.IdentityEmail {
			patterns = append(patterns, strings.ToLower(i.Value), strings.ToLower(url.QueryEscape(i.Value)))
		}
	}
	tag, err = tx.Exec(ctx, `
		UPDATE inbox SET body = '', headers = '{}', query = '', fetched = NULL, status = 'erased',
		       reason = 'raw payload erased on request', processed_at = coalesce(processed_at, now())
		WHERE status <> 'erased' AND (
		      id IN (SELECT inbox_id FROM timeline WHERE customer_id = ANY($1::uuid[]))
		   OR EXISTS (SELECT 1 FROM unnest($2::text[]) AS p
		              WHERE position(p IN lower(encode(inbox.body, 'escape'))) > 0
		                 OR position(p IN lower(coalesce(inbox.fetched::text, ''))) > 0))`, cluster, patterns)
	if err != nil {
		return nil, fmt.Errorf("erase: raw payloads: %w", err)
	}
	out.Payloads = tag.RowsAffected()

	// Their earlier events too: a record's data (a company named after the
	// person) must not outlive it in the outbox. Events not yet published
	// are dropped with them; erased.v1 follows on each key.
	// Referrals: who they referred forget them; whoever referred them
	// counts one less (recounted from the queue).
	for _, q := range []string{
		`INSERT INTO rescore_queue (customer_id)
		 SELECT DISTINCT referrer_id FROM referrals WHERE referred_id = ANY($1::uuid[]) AND referrer_id <> ALL($1::uuid[])
		 ON CONFLICT (customer_id) DO UPDATE SET queued_at = excluded.queued_at`,
		`UPDATE customers SET referred_by = NULL WHERE referred_by = ANY($1::uuid[]) AND id <> ALL($1::uuid[])`,
		`DELETE FROM referrals WHERE referred_id = ANY($1::uuid[]) OR referrer_id = ANY($1::uuid[])`,
	} {
		if _, err := tx.Exec(ctx, q, cluster); err != nil {
			return nil, fmt.Errorf("erase: referrals: %w", err)
		}
	}
	for _, table := range []string{"timeline", "tickets", "survey_responses", "consent_ledger", "identities", "outbox", "stage_history", "rescore_queue"} {
		if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE customer_id = ANY($1::uuid[])`, cluster); err != nil {
			return nil, fmt.Errorf("erase: %s: %w", table, err)
		}
	}
	// Destinations that erase by contact (a CRM deleting it by email) get
	// the person's identifiers one last time, captured now. Every other
	// delivery about them is deleted (its payload is their data), but
	// erasures still queued; one in flight is cancelled: deleted when its
	// attempt ends, never retried, and the erasure waits behind it.
	eff := &mapping.Effects{Contacts: map[string]*mapping.Contact{}}
	crows, err := tx.Query(ctx, `SELECT `+customerColumns+` FROM customers c WHERE c.id = ANY($1::uuid[]) AND c.erased_at IS NULL`, cluster)
	if err != nil {
		return nil, fmt.Errorf("erase: contacts: %w", err)
	}
	for crows.Next() {
		c, err := scanCustomer(crows)
		if err != nil {
			crows.Close()
			return nil, fmt.Errorf("erase: contacts: %w", err)
		}
		eff.Contacts[c.ID] = mapping.ContactOf(c)
	}
	crows.Close()
	for _, q := range []string{
		// Locked first, so no attempt starts or ends between the two
		// statements below (each sees the statuses the other saw).
		`SELECT id FROM deliveries WHERE customer_id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`,
		`DELETE FROM deliveries WHERE customer_id = ANY($1::uuid[]) AND status <> 'delivering' AND event_type <> '` + mapping.TypeCustomerErased + `'`,
		`UPDATE deliveries SET contact = NULL, payload = '', cancelled = true WHERE customer_id = ANY($1::uuid[]) AND status = 'delivering' AND event_type <> '` + mapping.TypeCustomerErased + `'`,
	} {
		if _, err := tx.Exec(ctx, q, cluster); err != nil {
			return nil, fmt.Errorf("erase: deliveries: %w", err)
		}
	}
	for _, r := range recs {
		if r.erased {
			continue
		}
		c := &mapping.Customer{ID: r.id, Version: r.version + 1}
		survivor := ""
		if r.id != root {
			survivor = root
		}
		ce, err := mapping.ErasedEvent(c, survivor, now)
		if err != nil {
			return nil, err
		}
		eff.Outbox = append(eff.Outbox, ce)
	}
	if _, err := tx.Exec(ctx, `
		UPDATE customers SET traits = '{}', first_touch = NULL, last_touch = NULL, consent = '{}',
		       scores = '{}', signals = '{}', stage = NULL, stage_entered_at = NULL, customer_status = NULL,
		       referred_by = NULL, referral_count = 0,
		       version = version + 1, erased_at = $2, updated_at = $2
		WHERE id = ANY($1::uuid[]) AND erased_at IS NULL`, cluster, now); err != nil {
		return nil, fmt.Errorf("erase: customers: %w", err)
	}
	if err := writeOutbox(ctx, tx, eff); err != nil {
		return nil, fmt.Errorf("erase: events: %w", err)
	}
	if err := writeDeliveries(ctx, tx, eff, s.currentRoutes()); err != nil {
		return nil, fmt.Errorf("erase: deliveries: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}
	return out, nil
}

// PurgeRawPayloads deletes up to limit processed raw requests received
// before cutoff (retention); pending ones are never purged. It returns how
// many it deleted.
func (s *Store) PurgeRawPayloads(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
		DELETE FROM inbox WHERE id IN (
		    SELECT id FROM inbox WHERE received_at < $1 AND status <> 'pending'
		    ORDER BY received_at LIMIT $2)`, cutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("purge raw payloads: %w", err)
	}
	return tag.RowsAffected(), nil
}
