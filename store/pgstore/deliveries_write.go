package pgstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/cyclehub/cyclehub/mapping"
)

// writeDeliveries queues a delivery of each event to every destination
// subscribed to it, in the event's transaction. A delivery row already
// queued (a replayed batch) is left as it is.
func writeDeliveries(ctx context.Context, tx pgx.Tx, e *mapping.Effects, routes []mapping.Route) error {
	if len(routes) == 0 || len(e.Outbox) == 0 {
		return nil
	}
	byID := map[string]*mapping.Customer{}
	for _, c := range e.Customers {
		byID[c.ID] = c
	}
	rows := mapping.FanOut(routes, e.Outbox, func(id string) *mapping.Contact {
		if c, ok := e.Contacts[id]; ok {
			return c
		}
		if c := byID[id]; c != nil {
			return mapping.ContactOf(c)
		}
		return nil
	})
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	dests, events, customers, types := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	payloads := make([][]byte, n)
	contacts := make([]*string, n)
	for i, r := range rows {
		p, err := mapping.MarshalCloudEvent(r.Event)
		if err != nil {
			return err
		}
		dests[i], events[i], customers[i], types[i], payloads[i] = r.Destination, r.Event.ID, r.Event.PartitionKey, r.Event.Type, p
		if r.Contact != nil {
			b, err := json.Marshal(r.Contact)
			if err != nil {
				return fmt.Errorf("encode contact: %w", err)
			}
			s := string(b)
			contacts[i] = &s
		}
	}
	// In event order, so a customer's deliveries to one destination get
	// increasing ids (the order they go out in).
	_, err := tx.Exec(ctx, `
		INSERT INTO deliveries (destination, event_id, customer_id, event_type, payload, contact)
		SELECT d, e, c, t, p, ct::jsonb
		FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::text[], $5::bytea[], $6::text[]) WITH ORDINALITY AS x(d, e, c, t, p, ct, o)
		ORDER BY o
		ON CONFLICT (destination, event_id) DO NOTHING`, dests, events, customers, types, payloads, contacts)
	return err
}
