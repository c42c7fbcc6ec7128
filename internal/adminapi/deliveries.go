package adminapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/cyclehub/cyclehub/store/pgstore"
)

var deliveryStatuses = []string{"pending", "delivering", "delivered", "dead"}

// listDeliveries answers GET /v1/deliveries?status=&destination=&from=&to=
// (newest first, paged like the others).
func (a *API) listDeliveries(w http.ResponseWriter, r *http.Request) {
	limit, before, ok := page(w, r)
	if !ok {
		return
	}
	f, ok := deliveryFilter(w, r.URL.Query().Get("status"), r.URL.Query().Get("destination"), r.URL.Query().Get("from"), r.URL.Query().Get("to"))
	if !ok {
		return
	}
	f.Before, f.Limit = before, limit
	items, err := a.store.ListDeliveries(r.Context(), f)
	if err != nil {
		a.unavailable(w, err)
		return
	}
	out := map[string]any{"items": nonNil(items)}
	if len(items) == limit {
		out["next_before"] = items[len(items)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

// replayDelivery answers POST /v1/deliveries/{id}/replay: a dead delivery
// is queued again with a fresh schedule (and its destination re-enabled).
func (a *API) replayDelivery(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusBadRequest, "invalid_id", "the id must be a positive integer")
		return
	}
	queued, err := a.store.ReplayDeliveries(r.Context(), []int64{id}, pgstore.DeliveryFilter{Status: "dead"})
	if err != nil {
		a.unavailable(w, err)
		return
	}
	if len(queued) == 0 {
		writeError(w, http.StatusNotFound, "not_found", "no dead delivery with that id")
		return
	}
	a.deliveriesQueued()
	writeJSON(w, http.StatusAccepted, map[string]any{"status": "queued", "id": id})
}

// replayDeliveries answers POST /v1/deliveries/replay with a JSON body
// {"destination", "from", "to", "status"}: every matching delivery (dead
// by default; "delivered" sends them again) is queued again.
func (a *API) replayDeliveries(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Destination string `json:"destination"`
		From        string `json:"from"`
		To          string `json:"to"`
		Status      string `json:"status"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_body", "the body must be JSON {\"destination\", \"from\", \"to\", \"status\"}: "+err.Error())
		return
	}
	if req.Destination == "" {
		writeError(w, http.StatusBadRequest, "invalid_destination", "destination is required")
		return
	}
	if !slices.Contains(a.Destinations, req.Destination) {
		writeError(w, http.StatusNotFound, "unknown_destination", "no destination "+strconv.Quote(req.Destination)+" is configured")
		return
	}
	if req.Status == "" {
		req.Status = "dead"
	}
	if req.Status != "dead" && req.Status != "delivered" {
		writeError(w, http.StatusBadRequest, "invalid_status", "status must be dead or delivered")
		return
	}
	f, ok := deliveryFilter(w, req.Status, req.Destination, req.From, req.To)
	if !ok {
		return
	}
	queued, err := a.store.ReplayDeliveries(r.Context(), nil, f)
	if err != nil {
		a.unavailable(w, err)
		return
	}
	a.deliveriesQueued()
	writeJSON(w, http.StatusAccepted, map[string]any{"status": "queued", "deliveries": len(queued[req.Destination])})
}

func (a *API) deliveriesQueued() {
	if a.OnDeliveryReplay != nil {
		a.OnDeliveryReplay()
	}
}

// deliveryFilter reads a status, a destination and an RFC 3339 time range,
// answering 400 itself when one is bad.
func deliveryFilter(w http.ResponseWriter, status, dest, from, to string) (pgstore.DeliveryFilter, bool) {
	f := pgstore.DeliveryFilter{Status: status, Destination: dest}
	if status != "" && !slices.Contains(deliveryStatuses, status) {
		writeError(w, http.StatusBadRequest, "invalid_status", "status must be one of pending, delivering, delivered, dead")
		return f, false
	}
	for _, t := range []struct {
		name, v string
		into    *time.Time
	}{{"from", from, &f.From}, {"to", to, &f.To}} {
		if t.v == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, t.v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_"+t.name, t.name+" must be an RFC 3339 time (2026-01-31T00:00:00Z)")
			return f, false
		}
		*t.into = v
	}
	return f, true
}
