// Package conformance is the test suite every outbound connector passes
// (open/close, delivery, retryable then success, permanent, partial batch
// failure, cancel mid-write, concurrent writes under -race), and the fake
// HTTP destination the HTTP connectors are tested against. Test support
// only: production code never imports it.
package conformance
