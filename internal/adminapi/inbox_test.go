package adminapi_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/cyclehub/cyclehub/internal/adminapi"
)

// seedReplayInbox stores typeform requests received on 2026-11-01: a
// quarantined one, a processed one with a timeline entry, a processed
// one without, an erased one, and one of another source.
func seedReplayInbox(e *apiEnv) {
	e.exec(`INSERT INTO inbox (request_id, source, provider, method, path, headers, body, received_at, status) VALUES
		(gen_random_uuid(), 'typeform', 'typeform', 'POST', '/hooks/typeform', '{"Content-Type":"application/json"}', '\x7b7d', '2026-11-01T08:00:00Z', 'quarantined'),
		(gen_random_uuid(), 'typeform', 'typeform', 'POST', '/hooks/typeform', '{"Content-Type":"application/json"}', '\x7b7d', '2026-11-01T09:00:00Z', 'done'),
		(gen_random_uuid(), 'typeform', 'typeform', 'POST', '/hooks/typeform', '{"Content-Type":"application/json"}', '\x7b7d', '2026-11-01T10:00:00Z', 'done'),
		(gen_random_uuid(), 'typeform', 'typeform', 'POST', '/hooks/typeform', '{}', '', '2026-11-01T11:00:00Z', 'erased'),
		(gen_random_uuid(), 'webflow', 'webflow', 'POST', '/hooks/webflow', '{"Content-Type":"application/json"}', '\x7b7d', '2026-11-01T08:00:00Z', 'quarantined')`,
		`INSERT INTO customers (id, version, created_at, updated_at) VALUES ('0198f3a0-0000-7000-8000-0000000000c1', 1, now(), now())`,
		`INSERT INTO timeline (customer_id, inbox_id, source, type, occurred_at)
		 SELECT '0198f3a0-0000-7000-8000-0000000000c1', id, 'typeform', 'form_submitted', received_at
		 FROM inbox WHERE source = 'typeform' AND received_at = '2026-11-01T09:00:00Z'`)
}

func TestInboxReplayRefusesBadBodies(t *testing.T) {
	e := newAPIEnv(t, nil)
	for _, tt := range []struct {
		name, body, code string
	}{
		{"a body that is not JSON", `source=typeform`, "invalid_body"},
		{"an unknown key", `{"source":"typeform","from":"2026-11-01","to":"2026-11-02","dryrun":true}`, "invalid_body"},
		{"a dry_run that is not a boolean", `{"source":"typeform","from":"2026-11-01","to":"2026-11-02","dry_run":"yes"}`, "invalid_body"},
		{"no source", `{"from":"2026-11-01","to":"2026-11-02"}`, "invalid_source"},
		{"a blank source", `{"source":"  ","from":"2026-11-01","to":"2026-11-02"}`, "invalid_source"},
		{"no from", `{"source":"typeform","to":"2026-11-02"}`, "invalid_from"},
		{"no to", `{"source":"typeform","from":"2026-11-01"}`, "invalid_to"},
		{"a from that is not a time", `{"source":"typeform","from":"last week","to":"2026-11-02"}`, "invalid_from"},
		{"a to that is not a time", `{"source":"typeform","from":"2026-11-01","to":"2026-11-02 10:00"}`, "invalid_to"},
		{"a range that ends before it starts", `{"source":"typeform","from":"2026-11-02","to":"2026-11-01"}`, "invalid_period"},
		{"an empty range", `{"source":"typeform","from":"2026-11-01","to":"2026-11-01T00:00:00Z"}`, "invalid_period"},
	} {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			code, body := e.doJSON("POST", "/v1/inbox/replay", tt.body)
			if code != http.StatusBadRequest || body["error"] != tt.code || body["message"] == "" {
				t.Errorf("%d %v, want 400 %s with a reason", code, body, tt.code)
			}
		})
	}
}

func TestInboxReplayThroughTheAPI(t *testing.T) {
	var woken atomic.Int32
	e := newAPIEnv(t, func(a *adminapi.API) { a.OnReplay = func() { woken.Add(1) } })
	seedReplayInbox(e)

	code, out := e.doJSON("POST", "/v1/inbox/replay", `{"source":"typeform","from":"2026-11-01","to":"2026-11-02","dry_run":true}`)
	if code != http.StatusOK || out["queued"] != 2.0 || out["skipped_applied"] != 1.0 || out["skipped_purged"] != 1.0 ||
		out["already_pending"] != 0.0 || out["dry_run"] != true {
		t.Fatalf("dry run: %d %v, want 200 with 2 to queue, 1 applied, 1 purged", code, out)
	}
	if woken.Load() != 0 {
		t.Error("a dry run woke the pipeline")
	}

	// [from, to): the request received at 10:00 is not in this range.
	code, out = e.doJSON("POST", "/v1/inbox/replay", `{"source":"typeform","from":"2026-11-01","to":"2026-11-01T10:00:00Z"}`)
	if code != http.StatusAccepted || out["queued"] != 1.0 || out["skipped_applied"] != 1.0 || out["dry_run"] != false ||
		out["source"] != "typeform" || out["from"] != "2026-11-01T00:00:00Z" || out["to"] != "2026-11-01T10:00:00Z" {
		t.Fatalf("replay: %d %v, want 202 with 1 queued and the range echoed", code, out)
	}
	if woken.Load() != 1 {
		t.Errorf("the pipeline was woken %d times, want once", woken.Load())
	}

	code, out = e.doJSON("POST", "/v1/inbox/replay", `{"source":"typeform","from":"2026-11-01","to":"2026-11-02","refetch":true}`)
	if code != http.StatusAccepted || out["queued"] != 1.0 || out["already_pending"] != 1.0 {
		t.Fatalf("second replay: %d %v, want the 10:00 request queued and the first one already pending", code, out)
	}
	code, out = e.doJSON("POST", "/v1/inbox/replay", `{"source":"nosuchsource","from":"2026-11-01","to":"2026-11-02"}`)
	if code != http.StatusAccepted || out["queued"] != 0.0 || woken.Load() != 2 {
		t.Errorf("a source without requests: %d %v (woken %d), want nothing queued and no wake-up", code, out, woken.Load())
	}
}
