// Package enrichhttp is the optional HTTP enrichment connector: it looks
// up a company domain at a firmographics API (Clearbit-, Apollo- or
// in-house-style) and adds the company's traits to events.
//
// It is built to never stand in the pipeline's way: answers are cached
// (Redis), every lookup has a time budget, a circuit breaker stops calling
// an API that keeps failing, and any failure just leaves the event as it
// was. It does not map payloads, store records or log per event.
package enrichhttp
