package main

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/webhooks"
)

// devConfig is the dev config the generator is used with.
const devConfig = "../../configs/cyclehub.yaml"

// memInbox stores requests in memory with the inbox's unique key on
// (source, dedup key).
type memInbox struct {
	mu   sync.Mutex
	keys map[string]bool
	byID map[string]*mapping.RawRequest
}

func (m *memInbox) Append(_ context.Context, raw *mapping.RawRequest) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := raw.Source + "\x00" + raw.DedupKey
	if raw.DedupKey != "" && (m.keys[k] || raw.PriorDedupKey != "" && m.keys[raw.Source+"\x00"+raw.PriorDedupKey]) {
		return true, nil
	}
	m.keys[k] = true
	m.byID[raw.RequestID] = raw
	return false, nil
}

func (m *memInbox) Reject(context.Context, *mapping.RawRequest, string) error { return nil }

// edge serves the daemon's real ingest handler for cfg's sources.
func edge(t *testing.T, cfg *configs.Config) (*httptest.Server, *memInbox) {
	t.Helper()
	inbox := &memInbox{keys: map[string]bool{}, byID: map[string]*mapping.RawRequest{}}
	log := logrus.New()
	log.SetOutput(io.Discard)
	h := webhooks.NewHandler(cfg.HTTP, cfg.Sources, cfg.Mappings, inbox, nil, logrus.NewEntry(log), time.Now)
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, inbox
}

func loadDevConfig(t *testing.T) *configs.Config {
	t.Helper()
	requireFixtures(t)
	cfg, err := configs.Load(devConfig, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Every provider of the default mix, rendered for many people with
// repeats, is accepted by the daemon's edge with the dev config (202, so
// signed right and a new delivery each time), needs no provider API call,
// and maps to its person: their email and phone, and identifiers no other
// person has.
func TestRequestsPassTheEdgeAndMapToTheirPerson(t *testing.T) {
	cfg := loadDevConfig(t)
	t.Run("the dev config", func(t *testing.T) { sendAndMap(t, cfg) })
	t.Run("sources protected by tokens", func(t *testing.T) {
		tokened := *cfg
		tokened.Sources = maps.Clone(cfg.Sources)
		for _, name := range []string{"form", "freshdesk", "delighted", "webflow", "tally"} {
			sc := tokened.Sources[name]
			sc.Token, sc.Secret = "load-test-token-0123456789", ""
			tokened.Sources[name] = sc
		}
		sendAndMap(t, &tokened)
	})
}

func sendAndMap(t *testing.T, cfg *configs.Config) {
	srv, inbox := edge(t, cfg)
	mix, err := parseMix("", cfg.Sources)
	if err != nil {
		t.Fatal(err)
	}
	ps := newPeople(42, 0.3)
	r := rand.New(rand.NewPCG(1, 2))
	type sent struct {
		person person
		source string
	}
	byRequest := map[string]sent{}
	names := slices.Sorted(maps.Keys(mix))
	for _, name := range names {
		src, err := newSource(name, cfg.Sources[name], srv.URL, testFixtures)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 12 {
			p, _ := ps.pick(r)
			var v values
			v.fill(p, ps.idBase+uint64(len(byRequest)), time.Now(), r)
			req, err := src.request(context.Background(), &v, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var out map[string]string
			_ = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("%s request %d: %d %v, want 202", name, i, resp.StatusCode, out)
			}
			byRequest[out["request_id"]] = sent{p, name}
		}
	}

	specs := map[string]mapping.SourceSpec{}
	for name, sc := range cfg.Sources {
		specs[name] = mapping.SourceSpec{Provider: sc.Provider, DefaultRegion: sc.DefaultRegion, Mapping: sc.Mapping}
	}
	mapper := mapping.NewMapper(specs, cfg.Mappings)
	owner := map[string]int{} // identity → person
	for id, s := range byRequest {
		raw := inbox.byID[id]
		if raw == nil {
			t.Fatalf("request %s of %s not stored", id, s.source)
		}
		if f, err := mapper.NextFetch(raw, mapping.Fetched{}); err != nil || f != nil {
			t.Fatalf("%s: the request needs a provider API call (%v, %v)", s.source, f, err)
		}
		evs, err := mapper.Map(raw)
		if err != nil || len(evs) != 1 {
			t.Fatalf("%s: %d events, %v; body %s", s.source, len(evs), err, raw.Body)
		}
		got := map[mapping.IdentityType]string{}
		for _, idn := range evs[0].Identities {
			got[idn.Type] = idn.Value
			if prev, ok := owner[idn.Key()]; ok && prev != s.person.Index {
				t.Errorf("%s: identity %s belongs to persons %d and %d", s.source, idn.Key(), prev, s.person.Index)
			}
			owner[idn.Key()] = s.person.Index
		}
		wantPhone := ""
		if sendsPhone(supported[cfg.Sources[s.source].Provider]) {
			wantPhone = s.person.Phone
		}
		if got["email"] != s.person.Email || got["phone"] != wantPhone {
			t.Errorf("%s: identities %v, want email %s and phone %q", s.source, got, s.person.Email, wantPhone)
		}
		if ev := evs[0]; ev.Traits["first_name"] == "" && !strings.Contains(ev.Traits["full_name"], s.person.First) {
			t.Errorf("%s: traits %v lack the person's name %q", s.source, ev.Traits, s.person.Full())
		}
	}
	if len(byRequest) != 12*len(names) {
		t.Fatalf("%d distinct request ids, want %d", len(byRequest), 12*len(names))
	}
}

// sendsPhone says the provider's requests carry the person's phone (the
// Intercom sample has none).
func sendsPhone(spec providerSpec) bool {
	return slices.ContainsFunc(spec.patches, func(p patch) bool {
		return strings.Contains(p.value, "{phone}") || strings.Contains(p.value, "{#phone_digits}")
	})
}

// --mix reads sources, families and weights, and refuses what it cannot
// send.
func TestMixFlag(t *testing.T) {
	cfg := loadDevConfig(t)
	for _, tc := range []struct {
		spec string
		want map[string]int
		err  string
	}{
		{spec: "form", want: map[string]int{"form": 1}},
		{spec: "form=3,typeform=1", want: map[string]int{"form": 3, "typeform": 1}},
		{spec: "surveys", want: map[string]int{"typeform": 12, "delighted": 11}},
		{spec: "support=2", want: map[string]int{"zendesk": 2, "freshdesk": 2, "intercom": 2, "helpscout": 2}},
		{spec: "nosuch", err: "no such source"},
		{spec: "form=0", err: "positive integer"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := parseMix(tc.spec, cfg.Sources)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !maps.Equal(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	def, err := parseMix("", cfg.Sources)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for name, w := range def {
		if _, ok := supported[cfg.Sources[name].Provider]; !ok {
			t.Errorf("default mix has %s, whose provider is not supported", name)
		}
		total += w
	}
	if total != 100 {
		t.Errorf("default weights sum to %d, want 100", total)
	}
	if _, err := newSource("meta", cfg.Sources["meta"], "http://x", testFixtures); err == nil ||
		!strings.Contains(err.Error(), "fetches from the provider's API") {
		t.Fatalf("meta: %v, want a refusal naming the API fetch", err)
	}
}
