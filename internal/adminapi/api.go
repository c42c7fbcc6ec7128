package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cyclehub/cyclehub/internal/secret"
	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/store/pgstore"
)

// Store is what the admin API reads and changes.
type Store interface {
	GetCustomer(ctx context.Context, id string) (*pgstore.CustomerView, error)
	FindCustomerID(ctx context.Context, id mapping.Identity) (string, error)
	Timeline(ctx context.Context, customerID string, before int64, limit int) ([]pgstore.TimelineEntry, error)
	ListQuarantine(ctx context.Context, source string, before int64, limit int) ([]pgstore.QuarantineItem, error)
	Replay(ctx context.Context, id int64, refetch bool) error
	Survivor(ctx context.Context, id string) (string, error)
	Erase(ctx context.Context, id string, key []byte, now time.Time) (*pgstore.Erasure, error)
	ListDeliveries(ctx context.Context, f pgstore.DeliveryFilter) ([]pgstore.DeliveryView, error)
	ReplayDeliveries(ctx context.Context, ids []int64, f pgstore.DeliveryFilter) (map[string][]int64, error)
	Funnel(ctx context.Context, q pgstore.FunnelQuery) (*pgstore.Funnel, error)
	ReplayInbox(ctx context.Context, q pgstore.InboxReplay) (*pgstore.InboxReplayResult, error)
	ExportCustomers(ctx context.Context, f pgstore.ExportFilter, page func([]*pgstore.CustomerView) error) error
	ExportTraitKeys(ctx context.Context, f pgstore.ExportFilter) ([]string, error)
}

// API is the admin HTTP API.
type API struct {
	token  secret.Secret
	store  Store
	log    *logrus.Entry
	region string
	// OnReplay, when set, is called after a request is queued again (the
	// pipeline's wake-up).
	OnReplay func()
	// OnErase, when set, is called after an erasure (the relay's wake-up).
	OnErase func()
	// OnDeliveryReplay, when set, is called after deliveries are queued
	// again (the delivery engine's wake-up).
	OnDeliveryReplay func()
	// Destinations are the configured destinations' names (a bulk replay
	// names one of them).
	Destinations []string
	// SuppressionKey keys the suppression list (the pipeline's key).
	SuppressionKey []byte
	// Now is the clock (time.Now unless set).
	Now func() time.Time
	// Ladder, when set, returns the current rules' stage ladder: the
	// funnel follows its ranked stages and takes its deal stages from
	// their phases (DOMAIN.md's ladder without it).
	Ladder func() []mapping.StageDef
}

// New returns the admin API. defaultRegion reads national phone numbers in
// ?phone= lookups.
func New(token secret.Secret, store Store, defaultRegion string, log *logrus.Entry) *API {
	return &API{token: token, store: store, log: log, region: defaultRegion}
}

// Register adds the /v1 routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle("GET /v1/customers/{id}", a.auth(a.getCustomer))
	mux.Handle("GET /v1/customers", a.auth(a.findCustomer))
	mux.Handle("GET /v1/customers/{id}/timeline", a.auth(a.timeline))
	mux.Handle("DELETE /v1/customers/{id}", a.auth(a.erase))
	mux.Handle("GET /v1/quarantine", a.auth(a.listQuarantine))
	mux.Handle("POST /v1/quarantine/{id}/replay", a.auth(a.replay))
	mux.Handle("GET /v1/deliveries", a.auth(a.listDeliveries))
	mux.Handle("POST /v1/deliveries/replay", a.auth(a.replayDeliveries))
	mux.Handle("POST /v1/deliveries/{id}/replay", a.auth(a.replayDelivery))
	mux.Handle("GET /v1/funnel", a.auth(a.funnel))
	mux.Handle("POST /v1/inbox/replay", a.auth(a.replayInbox))
	mux.Handle("GET /v1/customers/export", a.auth(a.exportCustomers))
}

// timeline lists a customer's interactions, newest first (see page).
func (a *API) timeline(w http.ResponseWriter, r *http.Request) {
	limit, before, ok := page(w, r)
	if !ok {
		return
	}
	v, err := a.store.GetCustomer(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, pgstore.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no customer with that id")
		return
	case err != nil:
		a.unavailable(w, err)
		return
	case v.ErasedAt != nil || v.Customer.MergedInto != "":
		a.respondGone(w, r, v, "/timeline")
		return
	}
	entries, err := a.store.Timeline(r.Context(), r.PathValue("id"), before, limit)
	if err != nil {
		a.unavailable(w, err)
		return
	}
	if entries == nil {
		entries = []pgstore.TimelineEntry{}
	}
	out := map[string]any{"items": entries}
	if len(entries) == limit {
		out["next_before"] = entries[len(entries)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

// page reads ?limit= (1–500, default 50) and ?before= (an id from the
// previous page's next_before); it answers 400 itself when they are bad.
func page(w http.ResponseWriter, r *http.Request) (limit int, before int64, ok bool) {
	q := r.URL.Query()
	limit = 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeError(w, http.StatusBadRequest, "invalid_limit", "limit must be between 1 and 500")
			return 0, 0, false
		}
		limit = n
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "invalid_before", "before must be an id from next_before (a positive integer)")
			return 0, 0, false
		}
		before = n
	}
	return limit, before, true
}

func (a *API) listQuarantine(w http.ResponseWriter, r *http.Request) {
	limit, before, ok := page(w, r)
	if !ok {
		return
	}
	items, err := a.store.ListQuarantine(r.Context(), r.URL.Query().Get("source"), before, limit)
	if err != nil {
		a.unavailable(w, err)
		return
	}
	if items == nil {
		items = []pgstore.QuarantineItem{}
	}
	out := map[string]any{"items": items}
	if len(items) == limit {
		out["next_before"] = items[len(items)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) replay(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusBadRequest, "invalid_id", "the id must be a positive integer")
		return
	}
	// ?refetch=true drops the stored provider API documents so they are
	// fetched again (after fixing a source's api_token or api_base).
	refetch, err := strconv.ParseBool(r.URL.Query().Get("refetch"))
	if err != nil && r.URL.Query().Get("refetch") != "" {
		writeError(w, http.StatusBadRequest, "invalid_refetch", "refetch must be true or false")
		return
	}
	switch err := a.store.Replay(r.Context(), id, refetch); {
	case errors.Is(err, pgstore.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no quarantined or rejected request with that id")
		return
	case errors.Is(err, pgstore.ErrImportedRequest):
		writeError(w, http.StatusConflict, "imported_row", "the request is a row of a bulk import: fix the mapping and run the same cyclehub import again")
		return
	case err != nil:
		a.unavailable(w, err)
		return
	}
	if a.OnReplay != nil {
		a.OnReplay()
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"status": "queued", "id": id, "refetch": refetch})
}

// auth lets a request through only with "Authorization: Bearer <token>"
// (the scheme in any case, RFC 7235). The token is compared by
// secret.Equal, in time that depends on neither value; an API without a
// token lets nobody in.
func (a *API) auth(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || a.token.IsZero() || !a.token.Equal(strings.TrimSpace(tok)) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cyclehub"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "a valid bearer token is required")
			return
		}
		next(w, r)
	})
}

func (a *API) getCustomer(w http.ResponseWriter, r *http.Request) {
	a.respondCustomer(w, r, r.PathValue("id"))
}

func (a *API) findCustomer(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var id mapping.Identity
	switch {
	case q.Get("email") != "":
		id = mapping.Identity{Type: mapping.IdentityEmail, Value: mapping.NormalizeEmail(q.Get("email"))}
	case q.Get("phone") != "":
		p, ok := mapping.NormalizePhone(q.Get("phone"), a.region)
		if !ok {
			writeError(w, http.StatusBadRequest, "invalid_phone", "phone is not a valid number")
			return
		}
		id = mapping.Identity{Type: mapping.IdentityPhone, Value: p.E164}
	case q.Get("user_id") != "":
		id = mapping.Identity{Type: mapping.IdentityUserID, Value: strings.TrimSpace(q.Get("user_id"))}
	case q.Get("external_id") != "":
		id = mapping.Identity{Type: mapping.IdentityExternal, Value: strings.TrimSpace(q.Get("external_id"))}
	case q.Get("anonymous_id") != "":
		id = mapping.Identity{Type: mapping.IdentityAnonymous, Value: strings.TrimSpace(q.Get("anonymous_id"))}
	default:
		writeError(w, http.StatusBadRequest, "missing_query", "give one of email=, phone=, user_id=, external_id= or anonymous_id=")
		return
	}
	if id.Value == "" {
		writeError(w, http.StatusBadRequest, "invalid_query", "the identifier is empty or not valid")
		return
	}
	cid, err := a.store.FindCustomerID(r.Context(), id)
	if errors.Is(err, pgstore.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no customer has that identifier")
		return
	}
	if err != nil {
		a.unavailable(w, err)
		return
	}
	a.respondCustomer(w, r, cid)
}

func (a *API) respondCustomer(w http.ResponseWriter, r *http.Request, id string) {
	v, err := a.store.GetCustomer(r.Context(), id)
	if errors.Is(err, pgstore.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no customer with that id")
		return
	}
	if err != nil {
		a.unavailable(w, err)
		return
	}
	if v.ErasedAt != nil || v.Customer.MergedInto != "" {
		a.respondGone(w, r, v, "")
		return
	}
	writeJSON(w, http.StatusOK, customerJSON(v))
}

// respondGone answers for a record that no longer holds its person: 410
// when erased; when merged, 301 to the same resource (suffix) of the
// record that holds them now (the end of the merge chain), so clients
// that follow redirects land there.
func (a *API) respondGone(w http.ResponseWriter, r *http.Request, v *pgstore.CustomerView, suffix string) {
	if v.ErasedAt != nil {
		writeJSON(w, http.StatusGone, map[string]any{"error": "erased", "message": "the customer was erased on request",
			"id": v.Customer.ID, "erased_at": v.ErasedAt})
		return
	}
	survivor, err := a.store.Survivor(r.Context(), v.Customer.ID)
	if err != nil {
		a.unavailable(w, err)
		return
	}
	loc := "/v1/customers/" + survivor + suffix
	w.Header().Set("Location", loc)
	writeJSON(w, http.StatusMovedPermanently, map[string]any{"id": v.Customer.ID, "merged_into": survivor, "location": loc})
}

// erase serves DELETE /v1/customers/{id}: the person is erased (the
// survivor and every record merged into it, when the id was merged).
func (a *API) erase(w http.ResponseWriter, r *http.Request) {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	res, err := a.store.Erase(r.Context(), r.PathValue("id"), a.SuppressionKey, now())
	if errors.Is(err, pgstore.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no customer with that id")
		return
	}
	if err != nil {
		a.unavailable(w, err)
		return
	}
	a.log.WithField("customer_id", res.CustomerID).WithField("records", len(res.RecordIDs)).Info("customer erased on request")
	if a.OnErase != nil {
		a.OnErase()
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "erased", "erasure": res})
}

func (a *API) unavailable(w http.ResponseWriter, err error) {
	a.log.WithError(err).Warn("admin read failed")
	w.Header().Set("Retry-After", "5")
	writeError(w, http.StatusServiceUnavailable, "storage_unavailable", "the record store is unavailable")
}

type customerResponse struct {
	ID          string                          `json:"id"`
	Version     int64                           `json:"version"`
	CreatedAt   time.Time                       `json:"created_at"`
	UpdatedAt   time.Time                       `json:"updated_at"`
	Traits      map[string]string               `json:"traits"`
	Provenance  map[string]provenance           `json:"provenance"`
	Identities  []identityResponse              `json:"identities"`
	Attribution map[string]touchOutput          `json:"attribution"`
	Consent     map[string]mapping.ConsentState `json:"consent"`
	// Lifecycle: the stage (null before any), customer_status (null
	// before the person is a customer), scores with their contributions,
	// the stage history, and the referral loop.
	Stage          *string                `json:"stage"`
	StageEnteredAt *time.Time             `json:"stage_entered_at"`
	Status         *string                `json:"customer_status"`
	Scores         mapping.Scores         `json:"scores"`
	StageHistory   []pgstore.StageStint   `json:"stage_history"`
	ReferredBy     *string                `json:"referred_by"`
	ReferralCount  int                    `json:"referral_count"`
	Merges         []pgstore.MergeView    `json:"merges"`
	Conflicts      []pgstore.ConflictView `json:"merge_conflicts"`
	Tickets        []pgstore.TicketView   `json:"tickets"`
	Responses      []pgstore.ResponseView `json:"survey_responses"`
}

type provenance struct {
	Source     string    `json:"source"`
	RequestID  string    `json:"request_id,omitempty"`
	ObservedAt time.Time `json:"observed_at"`
}

type identityResponse struct {
	Type      string    `json:"type"`
	Value     string    `json:"value"`
	Source    string    `json:"source"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

func customerJSON(v *pgstore.CustomerView) customerResponse {
	c := v.Customer
	out := customerResponse{
		ID: c.ID, Version: c.Version, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		Traits: c.TraitMap(), Provenance: map[string]provenance{},
		Identities: []identityResponse{}, Attribution: map[string]touchOutput{}, Consent: c.Consent,
		Merges: nonNil(v.Merges), Conflicts: nonNil(v.Conflicts),
		Tickets: nonNil(v.Tickets), Responses: nonNil(v.Responses),
		Scores: c.Lifecycle.Scores, StageHistory: nonNil(v.StageHistory), ReferralCount: c.Lifecycle.ReferralCount,
		Stage: orNull(c.Lifecycle.Stage), Status: orNull(c.Lifecycle.Status), ReferredBy: orNull(c.Lifecycle.ReferredBy),
	}
	if t := c.Lifecycle.StageEnteredAt; !t.IsZero() {
		out.StageEnteredAt = &t
	}
	if out.Consent == nil {
		out.Consent = map[string]mapping.ConsentState{}
	}
	for k, t := range c.Traits {
		out.Provenance[k] = provenance{Source: t.Source, RequestID: t.RequestID, ObservedAt: t.ObservedAt}
	}
	for _, i := range v.Identities {
		out.Identities = append(out.Identities, identityResponse(i))
	}
	if c.FirstTouch != nil {
		out.Attribution["first_touch"] = touchJSON(c.FirstTouch)
	}
	if c.LastTouch != nil {
		out.Attribution["last_touch"] = touchJSON(c.LastTouch)
	}
	return out
}

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// touchOutput is a touch as the API shows it: source/medium/campaign plus
// the raw utm_* values and click ids.
type touchOutput map[string]any

func touchJSON(t *mapping.Touch) touchOutput {
	out := touchOutput{"at": t.At}
	set := func(k, v string) {
		if v != "" {
			out[k] = v
		}
	}
	set("source", t.Source)
	set("medium", t.Medium)
	set("campaign", t.Campaign)
	set("utm_source", t.Source)
	set("utm_medium", t.Medium)
	set("utm_campaign", t.Campaign)
	set("utm_term", t.Term)
	set("utm_content", t.Content)
	set("gclid", t.Gclid)
	set("fbclid", t.Fbclid)
	set("li_fat_id", t.LiFatID)
	set("page_url", t.PageURL)
	set("referrer", t.Referrer)
	set("cyclehub_source", t.CycleSource)
	set("channel", t.Channel)
	return out
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": code, "message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
