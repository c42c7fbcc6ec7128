package hubspotsink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"

	"github.com/go-resty/resty/v2"

	"github.com/cyclehub/cyclehub/connectors"
	"github.com/cyclehub/cyclehub/mapping"
)

// Kind is the hubspot connector kind; New takes a Config or *Config.
var Kind = connectors.Kind{Name: "hubspot", MaxBatch: maxInputs, NeedsContact: true, ErasesByContact: true, New: newConnector}

func newConnector(cfg any) (connectors.Connector, error) {
	switch c := cfg.(type) {
	case Config:
		return New(c)
	case *Config:
		if c != nil {
			return New(*c)
		}
	}
	return nil, fmt.Errorf("hubspot: config is %T, want hubspotsink.Config", cfg)
}

// Sink writes lifecycle events to HubSpot contacts. It is safe for
// concurrent Writes.
type Sink struct {
	cfg Config
	// idField is the contact field matched on IDProperty ("": the
	// customer id).
	idField string
	client  *resty.Client
}

var _ connectors.Connector = (*Sink)(nil)

// String names the sink. fmt cannot call Secret's String on an unexported
// field, so without it %v of a Sink would print the token.
func (s *Sink) String() string { return "hubspot sink (" + s.cfg.BaseURL + ")" }

// Format prints String under every verb, for the same reason.
func (s *Sink) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// New returns a sink for a valid cfg; it does no I/O.
func New(cfg Config) (*Sink, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("hubspot config: %w", errors.Join(errs...))
	}
	cfg.Properties = maps.Clone(cfg.Properties)
	client := connectors.NewHTTPClient(cfg.HTTP).
		SetBaseURL(strings.TrimRight(cfg.BaseURL, "/")).
		SetAuthToken(cfg.Token.Reveal()).
		SetHeader("Accept", "application/json").
		SetHeader("Content-Type", "application/json")
	return &Sink{cfg: cfg, idField: cfg.idField(), client: client}, nil
}

// Connect does nothing: HubSpot needs no session, and checking the token
// or the customer id property would need scopes deliveries do not (a
// refused token fails the first Write, dead).
func (s *Sink) Connect(context.Context) error { return nil }

// Close releases idle connections.
func (s *Sink) Close(context.Context) error {
	s.client.GetClient().CloseIdleConnections()
	return nil
}

// op is what a record asks of HubSpot.
type op int

const (
	opNone op = iota // nothing (an event type HubSpot has no use for)
	opUpsert
	opMerge
	opErase
)

// item is a record of the batch with what it asks.
type item struct {
	idx int
	rec *mapping.OutboxRecord
	op  op
	// backward and toStage are a stage_changed event's.
	backward bool
	toStage  string
	merge    mapping.CustomerMergedData
	erase    mapping.CustomerErasedData
	// err is a failure known without a request.
	err error
}

// group is the records of one upsert run sharing a contact: one input,
// the last record's properties.
type group struct {
	id      string
	props   map[string]string
	trace   string
	clear   bool
	failed  bool
	members []*item
}

// write is the state of one Write.
type write struct {
	s    *Sink
	errs []error
	done []bool
	// held are customers with an event that failed retryably: their later
	// events in the batch wait too, to stay in order.
	held map[string]bool
	// abort is a destination failure: the records not yet done get it.
	abort error
}

// Write delivers batch in order (see the package doc).
func (s *Sink) Write(ctx context.Context, batch []mapping.OutboxRecord) error {
	w := &write{s: s, errs: make([]error, len(batch)), done: make([]bool, len(batch)), held: map[string]bool{}}
	items := make([]*item, len(batch))
	for i := range batch {
		items[i] = s.plan(i, &batch[i])
	}
	for i := 0; i < len(items) && w.abort == nil; {
		if items[i].op != opUpsert {
			w.one(ctx, items[i])
			i++
			continue
		}
		j := i
		for j < len(items) && items[j].op == opUpsert {
			j++
		}
		w.upserts(ctx, items[i:j])
		i = j
	}
	for i := range w.errs {
		if !w.done[i] {
			w.errs[i] = w.abort
		}
		w.errs[i] = s.redact(w.errs[i])
	}
	return collapse(w.errs)
}

// collapse is a Write's result: nil when every record was delivered, the
// error when every record failed with the same, else a BatchError.
func collapse(errs []error) error {
	same := true
	for _, err := range errs {
		same = same && err == errs[0]
	}
	switch {
	case len(errs) == 0 || same && errs[0] == nil:
		return nil
	case same:
		return errs[0]
	}
	for _, err := range errs {
		if err != nil {
			return &connectors.BatchError{Errs: errs}
		}
	}
	return nil
}

// plan reads what a record asks.
func (s *Sink) plan(idx int, rec *mapping.OutboxRecord) *item {
	it := &item{idx: idx, rec: rec}
	switch rec.Type {
	case mapping.TypeCustomerCreated, mapping.TypeCustomerUpdated, mapping.TypeScoreChanged:
		it.op = opUpsert
	case mapping.TypeStageChanged:
		it.op = opUpsert
		var d mapping.StageChangedData
		if err := eventData(rec, &d); err != nil {
			it.err = err
		}
		it.backward, it.toStage = d.Direction == "backward", d.ToStage
	case mapping.TypeCustomerMerged:
		it.op = opMerge
		if err := eventData(rec, &it.merge); err != nil {
			it.err = err
		} else if it.merge.SurvivorID == "" || it.merge.MergedID == "" {
			it.err = connectors.Permanent(errors.New("hubspot: merged event without survivor_id and merged_id"))
		}
	case mapping.TypeCustomerErased:
		it.op = opErase
		// An erasure goes ahead on the record's customer id even if its
		// data is unreadable.
		_ = eventData(rec, &it.erase)
	}
	return it
}

// eventData decodes the data of a record's CloudEvent into v.
func eventData(rec *mapping.OutboxRecord, v any) error {
	var ce mapping.CloudEvent
	if err := json.Unmarshal(rec.Payload, &ce); err != nil {
		return connectors.Permanent(fmt.Errorf("hubspot: unreadable event: %v", err))
	}
	if err := json.Unmarshal(ce.Data, v); err != nil {
		return connectors.Permanent(fmt.Errorf("hubspot: unreadable %s data: %v", rec.Type, err))
	}
	return nil
}

// finish records it's result; a retryable failure holds the customer's
// later events back.
func (w *write) finish(it *item, err error) {
	w.errs[it.idx], w.done[it.idx] = err, true
	if o, _ := connectors.Classify(err); o == connectors.Retry {
		w.held[it.rec.CustomerID] = true
	}
}

// fail records a request's failure: the record's, or the destination's
// (the Write stops).
func (w *write) fail(it *item, err error) {
	if aborts(err) {
		w.abort = err
		return
	}
	w.finish(it, err)
}

// heldBack finishes it when an earlier event of its customer failed.
func (w *write) heldBack(it *item, customerIDs ...string) bool {
	for _, id := range append(customerIDs, it.rec.CustomerID) {
		if w.held[id] {
			w.finish(it, connectors.Retryable(errors.New("hubspot: not sent: an earlier event of this customer in the batch failed"), 0))
			return true
		}
	}
	return false
}

// one handles a record that is not an upsert.
func (w *write) one(ctx context.Context, it *item) {
	switch {
	case it.err != nil:
		w.finish(it, it.err)
	case it.op == opMerge:
		if !w.heldBack(it, it.merge.MergedID) {
			w.mergeOne(ctx, it)
		}
	case it.op == opErase:
		if !w.heldBack(it) {
			w.eraseOne(ctx, it)
		}
	default:
		w.finish(it, nil)
	}
}

// upserts sends a run of upsert records: the lifecycle stage clears of
// backward moves first, then every contact.
func (w *write) upserts(ctx context.Context, run []*item) {
	s := w.s
	var groups []*group
	byID := map[string]*group{}
	for _, it := range run {
		if it.err != nil {
			w.finish(it, it.err)
			continue
		}
		if w.heldBack(it) {
			continue
		}
		c := it.rec.Contact
		switch {
		case c == nil:
			w.finish(it, connectors.Permanent(errors.New("hubspot: the delivery carries no contact")))
			continue
		case c.MergedInto != "":
			// Merged away: the survivor's events carry the person now.
			w.finish(it, nil)
			continue
		}
		id := s.idOf(it.rec)
		if id == "" {
			w.finish(it, connectors.Permanent(fmt.Errorf("hubspot: no %s to match the HubSpot contact by", s.idName())))
			continue
		}
		g := byID[s.fold(id)]
		if g == nil {
			g = &group{}
			byID[s.fold(id)] = g
			groups = append(groups, g)
		}
		g.id, g.props, g.trace = id, s.properties(it), it.rec.EventID
		g.clear = g.clear || it.backward
		g.members = append(g.members, it)
	}

	var clears, live []*group
	for _, g := range groups {
		if g.clear && g.props[lifecycleStage] != "" && s.cfg.Properties["stage"] == lifecycleStage {
			clears = append(clears, g)
		}
	}
	if !w.send(ctx, "hubspot stage clear", "clear", clears, true) {
		return
	}
	for _, g := range groups {
		if !g.failed {
			live = append(live, g)
		}
	}
	w.send(ctx, "hubspot upsert", "", live, false)
}

// send upserts groups in chunks, finishing their records when !clear and
// the failed ones either way; false when the destination failed.
func (w *write) send(ctx context.Context, what, step string, groups []*group, clear bool) bool {
	for start := 0; start < len(groups); start += maxInputs {
		chunk := groups[start:min(start+maxInputs, len(groups))]
		errs, _, abort := w.s.upsertChunk(ctx, what, step, chunk, clear)
		if abort != nil {
			w.abort = abort
			return false
		}
		for i, g := range chunk {
			if errs[i] == nil && clear {
				continue
			}
			g.failed = errs[i] != nil
			for _, m := range g.members {
				w.finish(m, errs[i])
			}
		}
	}
	return true
}

// mergeOne merges the merged customer's contact into the survivor's. On
// the merged record's key there is nothing to do; with no contact of the
// merged customer neither.
func (w *write) mergeOne(ctx context.Context, it *item) {
	s, rec, d := w.s, it.rec, it.merge
	if d.MergedID == rec.CustomerID {
		w.finish(it, nil)
		return
	}
	found, err := s.find(ctx, rec, d.SurvivorID, d.MergedID)
	if err != nil {
		w.fail(it, err)
		return
	}
	merged := found[d.MergedID]
	if len(merged) == 0 {
		w.finish(it, nil)
		return
	}
	var primary string
	if survivors := found[d.SurvivorID]; len(survivors) > 0 {
		primary = survivors[0]
	} else if primary, err = w.adoptSurvivor(ctx, it, merged[0]); err != nil {
		w.fail(it, err)
		return
	}
	for _, m := range merged {
		if m == primary {
			continue
		}
		key := requestKey("", rec)
		if len(merged) > 1 {
			key = requestKey("merge:"+m, rec)
		}
		gone, err := s.mergeContacts(ctx, key, primary, m)
		switch {
		case err != nil:
			w.fail(it, err)
			return
		case gone:
			w.finish(it, connectors.Retryable(errors.New("hubspot merge: HTTP 404: a contact is gone since the search"), 0))
			return
		}
	}
	w.finish(it, nil)
}

// adoptSurvivor gives the survivor, who has no contact yet, one to merge
// into: its upsert by id property (which may be the merged customer's
// contact itself, then re-keyed), or without an id value the merged
// customer's contact, re-keyed to the survivor.
func (w *write) adoptSurvivor(ctx context.Context, it *item, mergedObject string) (string, error) {
	s, rec := w.s, it.rec
	if id := s.idOf(rec); id != "" && rec.Contact != nil && rec.Contact.MergedInto == "" {
		g := &group{id: id, props: s.properties(it), trace: rec.EventID, members: []*item{it}}
		errs, answer, abort := s.upsertChunk(ctx, "hubspot upsert (merge survivor)", "survivor", []*group{g}, false)
		switch {
		case abort != nil:
			return "", abort
		case errs[0] != nil:
			return "", errs[0]
		case len(answer.Results) == 0 || answer.Results[0].ID == "":
			return "", connectors.Retryable(errors.New("hubspot upsert (merge survivor): no contact id in the answer"), 0)
		}
		return answer.Results[0].ID, nil
	}
	err := s.update(ctx, requestKey("rekey", rec), mergedObject, map[string]string{s.cfg.CustomerIDProperty: it.merge.SurvivorID})
	return mergedObject, err
}

// eraseOne GDPR-deletes the customer's contact by id property (email) when
// the record carries it, then every contact still holding the customer id
// (one left behind by an email change, or found only by it).
func (w *write) eraseOne(ctx context.Context, it *item) {
	s, rec := w.s, it.rec
	if id := s.idOf(rec); id != "" {
		if err := s.gdprDelete(ctx, requestKey("", rec), id, s.cfg.IDProperty); err != nil {
			w.fail(it, err)
			return
		}
	}
	customerID := it.erase.CustomerID
	if customerID == "" {
		customerID = rec.CustomerID
	}
	found, err := s.find(ctx, rec, customerID)
	if err != nil {
		w.fail(it, err)
		return
	}
	for _, obj := range found[customerID] {
		if err := s.gdprDelete(ctx, requestKey("delete:"+obj, rec), obj, ""); err != nil {
			w.fail(it, err)
			return
		}
	}
	w.finish(it, nil)
}

// customerID is the record's customer id.
func customerID(rec *mapping.OutboxRecord) string {
	if rec.Contact != nil && rec.Contact.CustomerID != "" {
		return rec.Contact.CustomerID
	}
	return rec.CustomerID
}

// idOf is the value the record's contact is matched on ("" when none).
func (s *Sink) idOf(rec *mapping.OutboxRecord) string {
	if s.idField == "" {
		return customerID(rec)
	}
	if rec.Contact == nil {
		return ""
	}
	return strings.TrimSpace(fieldValue(rec.Contact, s.idField))
}

// idName names the id value in messages.
func (s *Sink) idName() string {
	if s.idField == "" {
		return "customer id"
	}
	return strings.ReplaceAll(s.idField, "_", " ")
}

// fold is an id as HubSpot compares it (emails case-insensitively).
func (s *Sink) fold(id string) string {
	if s.cfg.IDProperty == "email" {
		return strings.ToLower(strings.TrimSpace(id))
	}
	return id
}

// properties are the HubSpot properties of an upsert record: the mapped
// fields that have a value, the customer id and the status.
func (s *Sink) properties(it *item) map[string]string {
	c := it.rec.Contact
	props := map[string]string{}
	for field, prop := range s.cfg.Properties {
		if prop == "" {
			continue
		}
		v := fieldValue(c, field)
		if field == "stage" && v == "" {
			v = it.toStage
		}
		if v != "" {
			props[prop] = v
		}
	}
	props[s.cfg.CustomerIDProperty] = customerID(it.rec)
	if s.cfg.StatusProperty != "" && c.Status != "" {
		props[s.cfg.StatusProperty] = c.Status
	}
	return props
}

// fieldValue is a contact field's value (a properties key).
func fieldValue(c *mapping.Contact, field string) string {
	if trait, ok := strings.CutPrefix(field, "traits."); ok {
		return c.Traits[trait]
	}
	switch field {
	case "email":
		return c.Email
	case "first_name":
		return c.FirstName
	case "last_name":
		return c.LastName
	case "phone":
		return c.Phone
	case "company":
		return c.Company
	case "job_title":
		return c.JobTitle
	case "country":
		return c.Country
	case "stage":
		return c.Stage
	}
	return ""
}

// redact masks the token, or any long enough piece of it (an answer's
// snippet may cut it), in err's message, keeping err's class.
func (s *Sink) redact(err error) error {
	tok := s.cfg.Token.Reveal()
	if err == nil || tok == "" {
		return err
	}
	msg := err.Error()
	clean := maskToken(msg, tok)
	if clean == msg {
		return err
	}
	var re *connectors.RetryableError
	if errors.As(err, &re) {
		cp := *re
		cp.Err = errors.New(clean)
		return &cp
	}
	var pe *connectors.PermanentError
	if errors.As(err, &pe) {
		cp := *pe
		cp.Err = errors.New(clean)
		return &cp
	}
	return connectors.Retryable(errors.New(clean), 0)
}

// maskToken replaces in msg every piece of at least 8 bytes (or the whole
// token, when shorter) that starts tok.
func maskToken(msg, tok string) string {
	least := min(8, len(tok))
	var b strings.Builder
	for i := 0; i < len(msg); {
		n := 0
		for n < len(tok) && i+n < len(msg) && msg[i+n] == tok[n] {
			n++
		}
		if n >= least {
			b.WriteString("***")
			i += n
			continue
		}
		b.WriteByte(msg[i])
		i++
	}
	return b.String()
}
