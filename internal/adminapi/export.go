package adminapi

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/store/pgstore"
)

// exportWriteWindow is how long writing one page of an export may take:
// the deadline moves on with every page, so an export of any size gets
// out while a stalled client is still cut off.
const exportWriteWindow = time.Minute

// exportCSVColumns are the fixed columns of a CSV export; a column per
// trait (trait.<name>) follows them.
var exportCSVColumns = []string{
	"id", "version", "created_at", "updated_at", "stage", "stage_entered_at", "customer_status",
	"fit", "engagement", "health", "health_zone", "band", "nps_category", "score_model",
	"referred_by", "referral_count",
	"email", "phone", "user_id", "external_id", "anonymous_id",
	"first_touch_source", "first_touch_medium", "first_touch_campaign", "first_touch_channel", "first_touch_at",
	"last_touch_source", "last_touch_medium", "last_touch_campaign", "last_touch_channel", "last_touch_at",
	"consent",
}

// exportIdentityTypes are the identity columns, in exportCSVColumns order.
var exportIdentityTypes = []mapping.IdentityType{
	mapping.IdentityEmail, mapping.IdentityPhone, mapping.IdentityUserID, mapping.IdentityExternal, mapping.IdentityAnonymous,
}

// writeFailed marks an export that stopped because the client did not
// take the response (nothing more can be told to it).
type writeFailed struct{ err error }

func (e writeFailed) Error() string { return "write export: " + e.err.Error() }
func (e writeFailed) Unwrap() error { return e.err }

// exportCustomers answers GET /v1/customers/export?format=jsonl|csv
// &stage=&updated_since= with every live customer (not merged away, not
// erased), in id order, streamed page by page as the store reads them.
// jsonl (the default, application/x-ndjson): one line per customer, the
// object GET /v1/customers/{id} answers. csv (text/csv): a header row,
// then one row per customer with the fixed columns (exportCSVColumns:
// identities of a type and consent choices joined with ";") and a
// trait.<name> column per trait; lists (merges, tickets, survey answers,
// stage history) are in jsonl only. updated_since is an RFC 3339 time or
// a date. A failure before the first page answers 503; after it the
// connection is cut, so a client never takes a partial export for a
// whole one.
func (a *API) exportCustomers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format := q.Get("format")
	if format == "" {
		format = "jsonl"
	}
	if format != "jsonl" && format != "csv" {
		writeError(w, http.StatusBadRequest, "invalid_format", "format must be jsonl or csv")
		return
	}
	f := pgstore.ExportFilter{Stage: q.Get("stage")}
	if v := q.Get("updated_since"); v != "" {
		t, err := parseTimeParam(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_updated_since", "updated_since "+err.Error())
			return
		}
		f.UpdatedSince = t
	}
	var traits []string
	if format == "csv" {
		var err error
		if traits, err = a.store.ExportTraitKeys(r.Context(), f); err != nil {
			a.unavailable(w, err)
			return
		}
	}
	rc := http.NewResponseController(w)
	var cw *csv.Writer
	started := false
	start := func() error {
		started = true
		h := w.Header()
		if format == "csv" {
			h.Set("Content-Type", "text/csv; charset=utf-8")
			h.Set("Content-Disposition", `attachment; filename="customers.csv"`)
		} else {
			h.Set("Content-Type", "application/x-ndjson")
			h.Set("Content-Disposition", `attachment; filename="customers.jsonl"`)
		}
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		if format == "csv" {
			cw = csv.NewWriter(w)
			header := slices.Clone(exportCSVColumns)
			for _, k := range traits {
				header = append(header, "trait."+k)
			}
			if err := cw.Write(header); err != nil {
				return writeFailed{err}
			}
		}
		return nil
	}
	enc := json.NewEncoder(w)
	began, rows := time.Now(), 0
	// A bulk read of personal data: logged (filters and size, no data).
	defer func() {
		a.log.WithField("format", format).WithField("stage", f.Stage).WithField("updated_since", q.Get("updated_since")).
			WithField("customers", rows).WithField("took_ms", time.Since(began).Milliseconds()).Info("customer export")
	}()
	err := a.store.ExportCustomers(r.Context(), f, func(page []*pgstore.CustomerView) error {
		_ = rc.SetWriteDeadline(time.Now().Add(exportWriteWindow))
		if !started {
			if err := start(); err != nil {
				return err
			}
		}
		for _, v := range page {
			var err error
			if cw != nil {
				err = cw.Write(exportCSVRow(v, traits))
			} else {
				err = enc.Encode(customerJSON(v))
			}
			if err != nil {
				return writeFailed{err}
			}
			rows++
		}
		if cw != nil {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return writeFailed{err}
			}
		}
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return writeFailed{err}
		}
		return nil
	})
	var wf writeFailed
	switch {
	case err == nil && !started: // nothing matched: the header alone
		if err := start(); err == nil && cw != nil {
			cw.Flush()
		}
	case err == nil:
	case errors.As(err, &wf) || r.Context().Err() != nil:
		a.log.WithError(err).Debug("customer export ended by the client")
	case !started:
		a.unavailable(w, err)
	default:
		a.log.WithError(err).Warn("customer export failed part way; connection cut")
		panic(http.ErrAbortHandler)
	}
}

// exportCSVRow flattens a customer into the CSV columns: the fixed ones,
// then one per trait.
func exportCSVRow(v *pgstore.CustomerView, traits []string) []string {
	c := v.Customer
	lc := c.Lifecycle
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	row := make([]string, 0, len(exportCSVColumns)+len(traits))
	row = append(row, c.ID, strconv.FormatInt(c.Version, 10), ts(c.CreatedAt), ts(c.UpdatedAt),
		lc.Stage, ts(lc.StageEnteredAt), lc.Status,
		num(lc.Scores.Fit), num(lc.Scores.Engagement), num(lc.Scores.Health), lc.Scores.HealthZone, lc.Scores.Band,
		lc.Scores.NPSCategory, lc.Scores.Model,
		lc.ReferredBy, strconv.Itoa(lc.ReferralCount))
	for _, typ := range exportIdentityTypes {
		var vals []string
		for _, i := range v.Identities {
			if i.Type == string(typ) {
				vals = append(vals, i.Value)
			}
		}
		row = append(row, strings.Join(vals, ";"))
	}
	for _, t := range []*mapping.Touch{c.FirstTouch, c.LastTouch} {
		if t == nil {
			row = append(row, "", "", "", "", "")
			continue
		}
		row = append(row, t.Source, t.Medium, t.Campaign, t.Channel, ts(t.At))
	}
	purposes := make([]string, 0, len(c.Consent))
	for p := range c.Consent {
		purposes = append(purposes, p)
	}
	slices.Sort(purposes)
	for i, p := range purposes {
		purposes[i] = p + ":" + c.Consent[p].Status
	}
	row = append(row, strings.Join(purposes, ";"))
	values := c.TraitMap()
	for _, k := range traits {
		row = append(row, values[k])
	}
	for i := range row {
		row[i] = csvCell(row[i])
	}
	return row
}

// csvCell defuses a value a spreadsheet would run as a formula (CSV
// injection: trait values come from webhooks): one starting with =, +,
// -, @, a tab or a carriage return gets a leading apostrophe, unless it
// is a plain number or phone number (+49 30 1234567, -12.5).
func csvCell(s string) string {
	if s == "" || !strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return s
	}
	plain := len(s) > 1
	for _, r := range s[1:] {
		if !strings.ContainsRune("0123456789 ().-", r) {
			plain = false
			break
		}
	}
	if plain && s[0] != '=' && s[0] != '@' && s[0] != '\t' && s[0] != '\r' {
		return s
	}
	return "'" + s
}
