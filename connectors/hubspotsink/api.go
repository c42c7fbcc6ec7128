package hubspotsink

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/cyclehub/cyclehub/connectors"
	"github.com/cyclehub/cyclehub/mapping"
)

// HubSpot CRM v3 contact endpoints.
const (
	pathUpsert     = "/crm/v3/objects/contacts/batch/upsert"
	pathSearch     = "/crm/v3/objects/contacts/search"
	pathMerge      = "/crm/v3/objects/contacts/merge"
	pathGDPRDelete = "/crm/v3/objects/contacts/gdpr-delete"
	pathContact    = "/crm/v3/objects/contacts/" // + object id
)

const (
	// lifecycleStage is HubSpot's lifecycle stage property, which it
	// refuses to move backward unless it is cleared first.
	lifecycleStage = "lifecyclestage"
	// maxInputs is HubSpot's limit of inputs in one batch request.
	maxInputs = 100
	// objectIDProperty is every object's id as a property.
	objectIDProperty = "hs_object_id"
)

type upsertInput struct {
	IDProperty         string            `json:"idProperty"`
	ID                 string            `json:"id"`
	Properties         map[string]string `json:"properties"`
	ObjectWriteTraceID string            `json:"objectWriteTraceId,omitempty"`
}

// batchResponse is a batch answer (200, 201, 207) or an error answer.
type batchResponse struct {
	Status  string `json:"status"`
	Results []struct {
		ID string `json:"id"`
	} `json:"results"`
	Errors []apiError `json:"errors"`
	apiError
}

// apiError is one error of a batch answer, or an error answer itself.
type apiError struct {
	Category string                     `json:"category"`
	Message  string                     `json:"message"`
	Context  map[string]json.RawMessage `json:"context"`
}

// refs are the input ids (and write trace ids) an error names.
func (e apiError) refs() []string {
	var out []string
	for _, k := range []string{"ids", "objectWriteTraceId", "objectWriteTraceIds"} {
		raw, ok := e.Context[k]
		if !ok {
			continue
		}
		var many []string
		if json.Unmarshal(raw, &many) == nil {
			out = append(out, many...)
			continue
		}
		var one string
		if json.Unmarshal(raw, &one) == nil {
			out = append(out, one)
		}
	}
	return out
}

// recordError classifies a batch error of one record: rate limits are
// retried, everything else (VALIDATION_ERROR, OBJECT_NOT_FOUND, CONFLICT…)
// would recur.
func (e apiError) recordError(what string) error {
	msg := e.Message
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	err := fmt.Errorf("%s: %s: %s", what, e.Category, msg)
	switch e.Category {
	case "RATE_LIMITS":
		return &connectors.RetryableError{Err: err, Status: http.StatusTooManyRequests}
	case "INTERNAL_ERROR", "TIMEOUT":
		return &connectors.RetryableError{Err: err}
	}
	return &connectors.PermanentError{Err: err}
}

// call sends one request; answers with a status in accept come back
// without an error, any other non-2xx answer as a classified error.
func (s *Sink) call(ctx context.Context, what, method, path, key string, body any, accept ...int) (*resty.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, connectors.Retryable(fmt.Errorf("%s: canceled", what), 0)
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, connectors.Permanent(fmt.Errorf("%s: encode the request: %w", what, err))
	}
	resp, err := s.client.R().SetContext(ctx).SetHeader("Idempotency-Key", key).SetBody(raw).Execute(method, path)
	if err == nil && slices.Contains(accept, resp.StatusCode()) {
		return resp, nil
	}
	if err := connectors.ClassifyHTTP(what, resp, err); err != nil {
		return resp, refine(err, resp)
	}
	return resp, nil
}

// refine adds what HubSpot's answers mean to a classified error: a rate
// limit's window as the retry hint when there is no Retry-After, and what
// to check on a refused token.
func refine(err error, resp *resty.Response) error {
	var re *connectors.RetryableError
	if errors.As(err, &re) && re.Status == http.StatusTooManyRequests && re.After == 0 && resp != nil {
		if ms, perr := strconv.Atoi(resp.Header().Get("X-HubSpot-RateLimit-Interval-Milliseconds")); perr == nil && ms > 0 {
			re.After = time.Duration(ms) * time.Millisecond
		}
	}
	var pe *connectors.PermanentError
	if errors.As(err, &pe) {
		switch pe.Status {
		case http.StatusUnauthorized:
			pe.Err = fmt.Errorf("%w (HubSpot refused the token)", pe.Err)
		case http.StatusForbidden:
			pe.Err = fmt.Errorf("%w (the private app lacks a scope: crm.objects.contacts.read and .write)", pe.Err)
		}
	}
	return err
}

// aborts reports whether a whole-request failure is the destination's
// (outage, rate limit, cancel, refused token, gone) rather than the
// request's: the rest of the batch is not sent.
func aborts(err error) bool {
	if o, _ := connectors.Classify(err); o == connectors.Retry || o == connectors.Disable {
		return true
	}
	var pe *connectors.PermanentError
	return errors.As(err, &pe) && (pe.Status == http.StatusUnauthorized || pe.Status == http.StatusForbidden)
}

// requestKey is the Idempotency-Key of a request carrying recs: the
// record's own key for its main request, suffixed by step for the others;
// a digest of the keys for several records. Every attempt of the same
// deliveries sends the same keys.
func requestKey(step string, recs ...*mapping.OutboxRecord) string {
	keys := make([]string, len(recs))
	for i, r := range recs {
		keys[i] = r.IdempotencyKey
		if keys[i] == "" {
			keys[i] = r.EventID
		}
	}
	var k string
	if len(keys) == 1 {
		k = keys[0]
	} else {
		slices.Sort(keys)
		sum := sha256.Sum256([]byte(strings.Join(keys, "\n")))
		k = "batch:" + hex.EncodeToString(sum[:16])
	}
	if step != "" {
		k += ":" + step
	}
	return k
}

// upsertChunk sends one batch upsert of groups (at most maxInputs): with
// their properties, or clearing lifecyclestage when clear. It returns each
// group's error, the answer, and a destination failure that stops the
// Write.
func (s *Sink) upsertChunk(ctx context.Context, what, step string, groups []*group, clear bool) ([]error, *batchResponse, error) {
	inputs := make([]upsertInput, len(groups))
	var recs []*mapping.OutboxRecord
	index := map[string]int{}
	for i, g := range groups {
		props := g.props
		if clear {
			props = map[string]string{lifecycleStage: ""}
		}
		inputs[i] = upsertInput{IDProperty: s.cfg.IDProperty, ID: g.id, Properties: props, ObjectWriteTraceID: g.trace}
		index[s.fold(g.id)] = i
		if g.trace != "" {
			index[g.trace] = i
		}
		for _, m := range g.members {
			recs = append(recs, m.rec)
		}
	}
	out := make([]error, len(groups))
	resp, err := s.call(ctx, what, http.MethodPost, pathUpsert, requestKey(step, recs...),
		map[string]any{"inputs": inputs}, http.StatusMultiStatus, http.StatusBadRequest, http.StatusConflict,
		http.StatusUnprocessableEntity)
	if err != nil {
		if aborts(err) {
			return nil, nil, err
		}
		for i := range out {
			out[i] = err
		}
		return out, nil, nil
	}

	var answer batchResponse
	_ = json.Unmarshal(resp.Body(), &answer) // an unreadable answer names no record
	errs := answer.Errors
	if answer.Category != "" {
		errs = append(errs, answer.apiError)
	}
	named := 0
	for _, e := range errs {
		for _, ref := range e.refs() {
			i, ok := index[s.fold(ref)]
			if !ok {
				i, ok = index[ref]
			}
			if ok && out[i] == nil {
				out[i] = e.recordError(what)
				named++
			}
		}
	}
	status := resp.StatusCode()
	var rest error // the outcome of the groups no error names
	switch {
	case status == http.StatusMultiStatus && named == 0:
		rest = connectors.Retryable(fmt.Errorf("%s: HTTP 207 without per-record errors", what), 0)
	case status >= 300 && named == 0:
		rest = refine(connectors.ClassifyHTTP(what, resp, nil), resp)
	case status >= 300:
		// HubSpot wrote nothing: the others go again without the refused.
		rest = connectors.Retryable(fmt.Errorf("%s: HTTP %d refused the request over other contacts in it", what, status), 0)
	}
	for i := range out {
		if out[i] == nil {
			out[i] = rest
		}
	}
	return out, &answer, nil
}

type searchRequest struct {
	FilterGroups []filterGroup `json:"filterGroups"`
	Properties   []string      `json:"properties"`
	Limit        int           `json:"limit"`
}

type filterGroup struct {
	Filters []filter `json:"filters"`
}

type filter struct {
	PropertyName string `json:"propertyName"`
	Operator     string `json:"operator"`
	Value        string `json:"value"`
}

// find returns the object ids of the contacts holding each customer id in
// CustomerIDProperty (one search; HubSpot's search index lags writes by a
// few seconds).
func (s *Sink) find(ctx context.Context, rec *mapping.OutboxRecord, customerIDs ...string) (map[string][]string, error) {
	req := searchRequest{Properties: []string{objectIDProperty, s.cfg.CustomerIDProperty}, Limit: 100}
	for _, id := range customerIDs {
		req.FilterGroups = append(req.FilterGroups, filterGroup{Filters: []filter{
			{PropertyName: s.cfg.CustomerIDProperty, Operator: "EQ", Value: id}}})
	}
	resp, err := s.call(ctx, "hubspot search", http.MethodPost, pathSearch, requestKey("search", rec), req)
	if err != nil {
		return nil, err
	}
	var answer struct {
		Results []struct {
			ID         string             `json:"id"`
			Properties map[string]*string `json:"properties"`
		} `json:"results"`
	}
	if err := json.Unmarshal(resp.Body(), &answer); err != nil {
		return nil, connectors.Retryable(fmt.Errorf("hubspot search: unreadable answer: %v", err), 0)
	}
	found := map[string][]string{}
	for _, r := range answer.Results {
		if v := r.Properties[s.cfg.CustomerIDProperty]; v != nil && r.ID != "" && slices.Contains(customerIDs, *v) {
			found[*v] = append(found[*v], r.ID)
		}
	}
	return found, nil
}

// mergeContacts merges objectIDToMerge into primary. gone reports a 404:
// one of them is gone since the search.
func (s *Sink) mergeContacts(ctx context.Context, key, primary, objectIDToMerge string) (gone bool, err error) {
	resp, err := s.call(ctx, "hubspot merge", http.MethodPost, pathMerge, key,
		map[string]string{"primaryObjectId": primary, "objectIdToMerge": objectIDToMerge}, http.StatusNotFound)
	return err == nil && resp.StatusCode() == http.StatusNotFound, err
}

// gdprDelete permanently deletes a contact, by idProperty's value or by
// object id (idProperty ""); a contact already gone counts as deleted.
func (s *Sink) gdprDelete(ctx context.Context, key, objectID, idProperty string) error {
	body := map[string]string{"objectId": objectID}
	if idProperty != "" {
		body["idProperty"] = idProperty
	}
	_, err := s.call(ctx, "hubspot gdpr-delete", http.MethodPost, pathGDPRDelete, key, body, http.StatusNotFound)
	return err
}

// update sets properties of a contact by object id.
func (s *Sink) update(ctx context.Context, key, objectID string, props map[string]string) error {
	_, err := s.call(ctx, "hubspot update", http.MethodPatch, pathContact+objectID, key,
		map[string]any{"properties": props})
	return err
}
