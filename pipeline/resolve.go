package pipeline

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/google/uuid"

	"github.com/cyclehub/cyclehub/mapping"
)

// resolver folds one batch's events into customers: it finds the customer
// each event is about, merges customers an event proves are one person,
// refuses merges that would give one person two tenant user ids, and
// collects every effect. The customers it works on were locked by the
// batch (every identity of the batch, then the customer rows).
type resolver struct {
	ctx   context.Context
	w     *Workers
	b     Batch
	model *mapping.Model
	eff   *mapping.Effects
	byKey map[string]*mapping.Customer // identity key → its customer, survivors only
	// touched lists the customers to write, in the order first touched.
	touched   []*mapping.Customer
	isTouched map[string]bool
	links     map[string]int // identity key → index in eff.Identities
	events    int
	// ruleErrors are the lifecycle rules that failed at run time.
	ruleErrors map[string]string
}

func newResolver(ctx context.Context, w *Workers, b Batch, eff *mapping.Effects, byKey map[string]*mapping.Customer) *resolver {
	return &resolver{ctx: ctx, w: w, b: b, model: w.Model(), eff: eff, byKey: byKey, isTouched: map[string]bool{}, links: map[string]int{}}
}

// apply resolves one event and folds it into its customer.
func (r *resolver) apply(it item) error {
	ev := it.ev
	trig := mapping.Trigger{Source: ev.Source, EventType: ev.Type, RequestID: it.req.RequestID, OccurredAt: ev.OccurredAt}
	c, created, err := r.target(it, trig)
	if err != nil {
		return err
	}
	for _, id := range ev.Identities {
		if owner := r.byKey[id.Key()]; owner != nil && owner != c {
			continue // another customer's, and they could not be merged (a conflict)
		}
		r.link(id, c, ev)
	}
	// A referral names the referrer; it is a link, not a trait.
	ref := ev.Traits["referred_by"]
	delete(ev.Traits, "referred_by")
	ch := c.Apply(ev, it.req.RequestID, r.w.Identity.Survivorship)
	ch.Created = created
	if ch.Changed() {
		c.Version++
		ce, err := mapping.ChangedEvent(c, ch, trig)
		if err != nil {
			return err
		}
		r.emit(ce)
	}
	if err := r.refer(c, ref, ev); err != nil {
		return err
	}
	if r.model != nil {
		if err := r.lifecycle(c, r.model.Evaluate(c, ev, r.w.now()), trig, it.req.RequestID); err != nil {
			return err
		}
	}
	r.record(it, c)
	r.touch(c)
	return nil
}

// refer links c to the referrer a referred_by value names, the first time.
func (r *resolver) refer(c *mapping.Customer, ref string, ev *mapping.Event) error {
	if ref == "" || c.Lifecycle.ReferredBy != "" {
		return nil
	}
	id, customerID := mapping.ReferrerRef(ref)
	referrer := ""
	switch {
	case customerID != "":
		referrer = customerID
		if o := r.customerByID(customerID); o == nil {
			found, err := r.b.FindReferrer(r.ctx, id, customerID)
			if err != nil {
				return err
			}
			referrer = found
		}
	case id.Value != "":
		if o := r.byKey[id.Key()]; o != nil {
			referrer = o.ID
		} else {
			found, err := r.b.FindReferrer(r.ctx, id, "")
			if err != nil {
				return err
			}
			referrer = found
		}
	}
	if referrer == "" || referrer == c.ID {
		return nil
	}
	c.Lifecycle.ReferredBy = referrer
	r.eff.Referrals = append(r.eff.Referrals, mapping.Referral{ReferrerID: referrer, ReferredID: c.ID, Source: ev.Source, At: ev.OccurredAt})
	return nil
}

// customerByID returns a customer of the batch by id.
func (r *resolver) customerByID(id string) *mapping.Customer {
	for _, c := range r.byKey {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// lifecycle publishes what an evaluation changed (lifecycleEffects) and
// keeps the rules that failed, to log once per batch.
func (r *resolver) lifecycle(c *mapping.Customer, lch mapping.LifecycleChange, trig mapping.Trigger, requestID string) error {
	for id, msg := range lch.RuleErrors {
		if r.ruleErrors == nil {
			r.ruleErrors = map[string]string{}
		}
		r.ruleErrors[id] = msg
	}
	n, err := lifecycleEffects(r.eff, r.model, c, lch, trig, requestID)
	r.events += n
	return err
}

// target finds (or starts) the customer an event is about. Several
// customers holding the event's identifiers are merged into the oldest,
// unless that would give one person two tenant user ids: then the merge
// is refused and recorded, and the event goes to the customer of its own
// user id (or of its highest-priority identifier).
func (r *resolver) target(it item, trig mapping.Trigger) (*mapping.Customer, bool, error) {
	ev := it.ev
	var owners []*mapping.Customer
	var evUser string
	for _, id := range ev.Identities { // by priority
		if id.Type == mapping.IdentityUserID && evUser == "" {
			evUser = id.Value
		}
		if o := r.byKey[id.Key()]; o != nil && !slices.Contains(owners, o) {
			owners = append(owners, o)
		}
	}
	users := map[string]bool{}
	if evUser != "" {
		users[evUser] = true
	}
	for _, o := range owners {
		for _, u := range o.UserIDs {
			users[u] = true
		}
	}
	// A merge of several records may not join two user ids, nor may the
	// event give its one record a second user id.
	evUserIsNew := evUser != "" && r.byKey[mapping.Identity{Type: mapping.IdentityUserID, Value: evUser}.Key()] == nil
	if len(owners) > 1 && len(users) > 1 || len(owners) == 1 && evUserIsNew && len(owners[0].UserIDs) > 0 {
		return r.conflict(it, owners, evUser, len(users))
	}
	switch len(owners) {
	case 0:
		id, err := uuid.NewV7()
		if err != nil {
			return nil, false, fmt.Errorf("new customer id: %w", err)
		}
		return mapping.NewCustomer(id.String(), ev), true, nil
	case 1:
		return owners[0], false, nil
	}
	survivor := owners[0]
	for _, o := range owners[1:] {
		if o.CreatedAt.Before(survivor.CreatedAt) || o.CreatedAt.Equal(survivor.CreatedAt) && o.ID < survivor.ID {
			survivor = o
		}
	}
	for _, o := range owners {
		if o != survivor {
			if err := r.merge(survivor, o, r.linkingType(ev, o), it, trig); err != nil {
				return nil, false, err
			}
		}
	}
	return survivor, false, nil
}

// conflict records a refused merge and picks the event's customer.
func (r *resolver) conflict(it item, owners []*mapping.Customer, evUser string, users int) (*mapping.Customer, bool, error) {
	ids := make([]string, 0, len(owners))
	for _, o := range owners {
		ids = append(ids, o.ID)
	}
	sort.Strings(ids)
	r.eff.Conflicts = append(r.eff.Conflicts, mapping.MergeConflict{
		CustomerIDs: ids, InboxID: it.req.ID, Source: it.ev.Source, At: it.ev.OccurredAt,
		Reason: "the event links records that hold " + strconv.Itoa(users) + " different tenant user ids; merging them would give one person two",
	})
	if evUser != "" {
		if o := r.byKey[mapping.Identity{Type: mapping.IdentityUserID, Value: evUser}.Key()]; o != nil {
			return o, false, nil
		}
		// The event's own user id is new: it is that person's, not the
		// other records'.
		id, err := uuid.NewV7()
		if err != nil {
			return nil, false, fmt.Errorf("new customer id: %w", err)
		}
		return mapping.NewCustomer(id.String(), it.ev), true, nil
	}
	return owners[0], false, nil
}

// merge folds m into survivor: records, events and every pending effect
// of m move to the survivor. The merged record keeps its id as a
// tombstone pointing at the survivor.
func (r *resolver) merge(survivor, m *mapping.Customer, linkedBy mapping.IdentityType, it item, trig mapping.Trigger) error {
	var stage mapping.LifecycleChange
	if r.model != nil {
		stage = r.model.AbsorbLifecycle(survivor, m)
	}
	changed := survivor.Absorb(m, r.w.Identity.Survivorship)
	for _, c := range []*mapping.Customer{m, survivor} {
		c.Version++
		var names []string
		if c == survivor {
			names = changed
		}
		ce, err := mapping.MergedEvent(c, survivor.ID, m.ID, linkedBy, names, trig)
		if err != nil {
			return err
		}
		r.emit(ce)
	}
	r.eff.Merges = append(r.eff.Merges, mapping.Merge{
		SurvivorID: survivor.ID, MergedID: m.ID, IdentityType: linkedBy, InboxID: it.req.ID, Source: it.ev.Source, At: it.ev.OccurredAt,
	})
	for k, c := range r.byKey {
		if c == m {
			r.byKey[k] = survivor
		}
	}
	r.repoint(m.ID, survivor.ID)
	r.touch(m)
	r.touch(survivor)
	if stage.StageChanged() {
		return r.lifecycle(survivor, stage, trig, it.req.RequestID)
	}
	return nil
}

// repoint moves the batch's pending effects of one customer to another
// (what is already stored moves with the merge's UPDATEs).
func (r *resolver) repoint(from, to string) {
	move := func(id *string) {
		if *id == from {
			*id = to
		}
	}
	e := r.eff
	for i := range e.Identities {
		move(&e.Identities[i].CustomerID)
	}
	for i := range e.Timeline {
		move(&e.Timeline[i].CustomerID)
	}
	for i := range e.Consent {
		move(&e.Consent[i].CustomerID)
	}
	for i := range e.Tickets {
		move(&e.Tickets[i].CustomerID)
	}
	for i := range e.Responses {
		move(&e.Responses[i].CustomerID)
	}
}

// linkingType is the highest-priority kind of identifier the event shares
// with o.
func (r *resolver) linkingType(ev *mapping.Event, o *mapping.Customer) mapping.IdentityType {
	for _, id := range ev.Identities {
		if r.byKey[id.Key()] == o {
			return id.Type
		}
	}
	return ""
}

// link attaches an identifier to c (or refreshes when it was last seen).
func (r *resolver) link(id mapping.Identity, c *mapping.Customer, ev *mapping.Event) {
	r.byKey[id.Key()] = c
	if id.Type == mapping.IdentityUserID && !slices.Contains(c.UserIDs, id.Value) {
		c.UserIDs = append(c.UserIDs, id.Value)
	}
	l := mapping.IdentityLink{Identity: id, CustomerID: c.ID, Source: ev.Source, SeenAt: ev.OccurredAt}
	if i, ok := r.links[id.Key()]; ok {
		if l.SeenAt.After(r.eff.Identities[i].SeenAt) {
			r.eff.Identities[i].SeenAt = l.SeenAt
		}
		return
	}
	r.links[id.Key()] = len(r.eff.Identities)
	r.eff.Identities = append(r.eff.Identities, l)
}

// record adds the interaction's rows: timeline, consent choices, ticket,
// survey response.
func (r *resolver) record(it item, c *mapping.Customer) {
	ev := it.ev
	r.eff.Timeline = append(r.eff.Timeline, mapping.TimelineEntry{
		CustomerID: c.ID, InboxID: it.req.ID, RecordIndex: it.record, Source: ev.Source, Type: ev.Type,
		OccurredAt: ev.OccurredAt, Properties: ev.Properties,
	})
	for _, ch := range ev.Consent {
		r.eff.Consent = append(r.eff.Consent, mapping.ConsentRecord{
			CustomerID: c.ID, Purpose: ch.Purpose, Status: ch.Status, Source: ev.Source, Method: ch.Method,
			InboxID: it.req.ID, At: ev.OccurredAt,
		})
	}
	if t := mapping.TicketOf(ev); t != nil {
		t.CustomerID = c.ID
		r.eff.Tickets = append(r.eff.Tickets, *t)
	}
	if s := mapping.SurveyResponseOf(ev, it.req.RequestID+"/"+strconv.Itoa(it.record)); s != nil {
		s.CustomerID = c.ID
		r.eff.Responses = append(r.eff.Responses, *s)
	}
}

func (r *resolver) emit(ce *mapping.CloudEvent) {
	r.eff.Outbox = append(r.eff.Outbox, ce)
	r.events++
}

func (r *resolver) touch(c *mapping.Customer) {
	if !r.isTouched[c.ID] {
		r.isTouched[c.ID] = true
		r.touched = append(r.touched, c)
	}
}
