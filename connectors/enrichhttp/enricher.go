package enrichhttp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/cyclehub/cyclehub/internal/breaker"
	"github.com/cyclehub/cyclehub/mapping"
)

// Cache keeps the API's answers.
type Cache interface {
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// Lookup outcomes, for metrics.
const (
	OutcomeCached   = "cached"
	OutcomeFound    = "found"
	OutcomeNotFound = "not_found"
	OutcomeFailed   = "failed"
	OutcomeSkipped  = "skipped" // breaker open or budget spent
)

// Enricher adds firmographics to events from the API, by company domain.
// It is safe for concurrent use.
type Enricher struct {
	cfg   Config
	http  *resty.Client
	cache Cache
	br    *breaker.Breaker
	paths map[string]mapping.Path
	now   func() time.Time
	// OnLookup, when set, observes every domain's lookup outcome.
	OnLookup func(outcome string)
}

// parallel caps the lookups in flight for one batch.
const parallel = 8

// New returns the enricher (cfg must be valid and enabled).
func New(cfg Config, cache Cache, now func() time.Time) *Enricher {
	paths := map[string]mapping.Path{}
	for t, p := range cfg.Traits {
		paths[t], _ = mapping.ParsePath(p)
	}
	r := resty.New().SetTimeout(cfg.Timeout).SetRetryCount(0).SetHeader("Accept", "application/json").
		SetResponseBodyLimit(1 << 20).SetDisableWarn(true)
	if !cfg.Token.IsZero() {
		r.SetAuthToken(cfg.Token.Reveal())
	}
	return &Enricher{cfg: cfg, http: r, cache: cache, paths: paths, now: now,
		br: breaker.New(cfg.BreakerFailures, cfg.BreakerCooldown)}
}

// Enrich adds the company traits of each event's company_domain within the
// batch's time budget. Whatever fails, events go on as they are.
func (e *Enricher) Enrich(ctx context.Context, evs []*mapping.Event) {
	byDomain := map[string][]*mapping.Event{}
	for _, ev := range evs {
		if d := ev.Traits["company_domain"]; d != "" {
			byDomain[d] = append(byDomain[d], ev)
		}
	}
	if len(byDomain) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Budget)
	defer cancel()
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, parallel)
	)
	for domain, list := range byDomain {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				e.observe(OutcomeSkipped)
				return
			}
			traits := e.lookup(ctx, domain)
			if len(traits) == 0 {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, ev := range list {
				if ev.Enrichment == nil {
					ev.Enrichment = map[string]string{}
				}
				for k, v := range traits {
					ev.Enrichment[k] = v
				}
			}
		})
	}
	wg.Wait()
}

// lookup returns a domain's traits: from the cache, else from the API.
func (e *Enricher) lookup(ctx context.Context, domain string) map[string]string {
	if b, ok, err := e.cache.Get(ctx, domain); err == nil && ok {
		e.observe(OutcomeCached)
		var traits map[string]string
		_ = json.Unmarshal(b, &traits)
		return traits
	}
	if ctx.Err() != nil || !e.br.Allow(e.now()) {
		e.observe(OutcomeSkipped)
		return nil
	}
	resp, err := e.http.R().SetContext(ctx).Get(strings.ReplaceAll(e.cfg.URL, "{domain}", url.QueryEscape(domain)))
	switch {
	case err != nil && ctx.Err() != nil:
		// The batch's budget ran out: no verdict on the API.
		e.br.Done(true, e.now())
		e.observe(OutcomeSkipped)
		return nil
	case err != nil || resp.StatusCode() == http.StatusTooManyRequests || resp.StatusCode() >= 500:
		e.br.Done(false, e.now())
		e.observe(OutcomeFailed)
		return nil
	case resp.StatusCode() == http.StatusNotFound:
		e.br.Done(true, e.now())
		e.remember(ctx, domain, map[string]string{}, e.cfg.MissTTL)
		e.observe(OutcomeNotFound)
		return nil
	case resp.StatusCode() >= 300:
		e.br.Done(false, e.now())
		e.observe(OutcomeFailed)
		return nil
	}
	doc, err := mapping.DecodeJSON(resp.Body())
	if err != nil {
		e.br.Done(false, e.now())
		e.observe(OutcomeFailed)
		return nil
	}
	e.br.Done(true, e.now())
	traits := map[string]string{}
	for t, p := range e.paths {
		for _, v := range p.Eval(doc) {
			if s := mapping.CleanText(mapping.ScalarString(v)); s != "" {
				if _, isObj := v.(map[string]any); !isObj {
					traits[t] = s
					break
				}
			}
		}
	}
	ttl := e.cfg.CacheTTL
	outcome := OutcomeFound
	if len(traits) == 0 {
		ttl, outcome = e.cfg.MissTTL, OutcomeNotFound
	}
	e.remember(ctx, domain, traits, ttl)
	e.observe(outcome)
	return traits
}

func (e *Enricher) remember(ctx context.Context, domain string, traits map[string]string, ttl time.Duration) {
	b, _ := json.Marshal(traits)
	_ = e.cache.Set(context.WithoutCancel(ctx), domain, b, ttl) // a cache that fails only costs a lookup
}

func (e *Enricher) observe(outcome string) {
	if e.OnLookup != nil {
		e.OnLookup(outcome)
	}
}

// BreakerOpen reports whether lookups are paused (for readiness detail).
func (e *Enricher) BreakerOpen() bool { return !e.br.OpenUntil(e.now()).IsZero() }
