package telemetry

import (
	"maps"
	"sync"
	"testing"
	"time"
)

func TestSourcesCountEachAnswerByItsClass(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name                        string
		statuses                    []int
		accepted, rejected, sigFail int64
		by                          map[string]int64
	}{
		{"a stored request, a duplicate, a test ping and a handshake are accepted", []int{202, 200, 200, 200}, 4, 0, 0, map[string]int64{}},
		{"a bad signature or token is a signature failure", []int{401, 401}, 0, 2, 2, map[string]int64{RejectSignature: 2}},
		{"a handshake with the wrong verify token is a signature failure", []int{403}, 0, 1, 1, map[string]int64{RejectSignature: 1}},
		{"malformed, wrong method, too large and wrong media type are invalid", []int{400, 405, 413, 415}, 0, 4, 0, map[string]int64{RejectInvalid: 4}},
		{"the rate limit is its own class", []int{429}, 0, 1, 0, map[string]int64{RejectRateLimited: 1}},
		{"storage down and a delivery in flight are unavailable", []int{503, 500}, 0, 2, 0, map[string]int64{RejectUnavailable: 2}},
		{"a mix is counted apart", []int{202, 401, 400, 202, 503}, 2, 3, 1, map[string]int64{RejectSignature: 1, RejectInvalid: 1, RejectUnavailable: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := t0
			s := NewSources(func() time.Time { return now })
			for _, st := range tt.statuses {
				now = now.Add(time.Second)
				s.ObserveRequest("form", st, time.Millisecond)
			}
			got := s.Snapshot()
			if len(got) != 1 {
				t.Fatalf("snapshot = %+v, want one source", got)
			}
			h := got[0]
			if h.Source != "form" || h.Accepted != tt.accepted || h.Rejected != tt.rejected || h.SignatureFailures != tt.sigFail {
				t.Errorf("form = accepted %d, rejected %d, signature failures %d; want %d, %d, %d",
					h.Accepted, h.Rejected, h.SignatureFailures, tt.accepted, tt.rejected, tt.sigFail)
			}
			if !maps.Equal(h.RejectedBy, tt.by) {
				t.Errorf("rejected by = %v, want %v", h.RejectedBy, tt.by)
			}
			if want := t0.Add(time.Duration(len(tt.statuses)) * time.Second); !h.LastRequest.Equal(want) {
				t.Errorf("last request = %v, want %v", h.LastRequest, want)
			}
		})
	}
}

func TestConfiguredSourcesShowBeforeTheirFirstRequest(t *testing.T) {
	s := NewSources(time.Now, "typeform", "form")
	s.ObserveRequest("_unknown", 404, 0)
	got := s.Snapshot()
	var names []string
	for _, h := range got {
		names = append(names, h.Source)
	}
	if len(names) != 3 || names[0] != "_unknown" || names[1] != "form" || names[2] != "typeform" {
		t.Fatalf("sources = %v, want _unknown, form, typeform (by name)", names)
	}
	if !got[1].LastRequest.IsZero() || got[1].Accepted != 0 || got[1].RejectedBy == nil {
		t.Errorf("an idle source = %+v, want zero counts and no last request", got[1])
	}
	if got[0].RejectedBy[RejectUnknownSource] != 1 {
		t.Errorf("_unknown = %+v, want one unknown_source rejection", got[0])
	}
}

func TestASnapshotIsACopy(t *testing.T) {
	s := NewSources(time.Now)
	s.ObserveRequest("form", 401, 0)
	snap := s.Snapshot()
	snap[0].RejectedBy[RejectSignature] = 99
	s.ObserveRequest("form", 401, 0)
	if got := s.Snapshot()[0].RejectedBy[RejectSignature]; got != 2 {
		t.Fatalf("signature rejections = %d after a caller changed a snapshot, want 2", got)
	}
}

func TestSourcesAreSafeForConcurrentHandlers(t *testing.T) {
	s := NewSources(time.Now, "form")
	const handlers, each = 8, 500
	var wg sync.WaitGroup
	for i := range handlers {
		wg.Go(func() {
			for j := range each {
				status := 202
				if (i+j)%2 == 1 {
					status = 401
				}
				s.ObserveRequest("form", status, 0)
				if j%50 == 0 {
					_ = s.Snapshot()
				}
			}
		})
	}
	wg.Wait()
	h := s.Snapshot()[0]
	if h.Accepted+h.Rejected != handlers*each || h.SignatureFailures != h.Rejected || h.Accepted != handlers*each/2 {
		t.Fatalf("form = %+v, want %d requests, half of them signature failures", h, handlers*each)
	}
}
