package connectors

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/hashicorp/go-retryablehttp"
)

// HTTPConfig is the HTTP client of an HTTP connector.
type HTTPConfig struct {
	// Timeout bounds one request, in-call retries included.
	Timeout time.Duration `yaml:"timeout" doc:"Limit on one call, its quick in-call retries included. Range 100ms to 5m."`
	// Retries are quick in-call retries of connection failures and of
	// 429/5xx answers asking to wait at most 2 s; longer waits go to the
	// durable schedule (one retry layer per time horizon).
	Retries int `yaml:"retries" doc:"Quick retries inside one call of connection failures, 429 and 5xx except 501, 100ms to 2s apart; an answer whose Retry-After is over 2s is left to the durable schedule. Range 0 to 5. Redirects are never followed."`
}

// DefaultHTTPConfig returns the defaults documented in the README.
func DefaultHTTPConfig() HTTPConfig { return HTTPConfig{Timeout: 10 * time.Second, Retries: 1} }

// Validate reports every problem with c, each prefixed by its key.
func (c HTTPConfig) Validate() []error {
	var errs []error
	if c.Timeout < 100*time.Millisecond || c.Timeout > 5*time.Minute {
		errs = append(errs, fmt.Errorf("timeout: must be between 100ms and 5m, got %s", c.Timeout))
	}
	if c.Retries < 0 || c.Retries > 5 {
		errs = append(errs, fmt.Errorf("retries: must be between 0 and 5, got %d", c.Retries))
	}
	return errs
}

// maxInCallWait is the longest Retry-After waited for inside a call.
const maxInCallWait = 2 * time.Second

// NewHTTPClient returns a resty client whose transport is go-retryablehttp
// (the only retrying layer: resty's own retries are off).
func NewHTTPClient(cfg HTTPConfig) *resty.Client {
	rc := retryablehttp.NewClient()
	rc.Logger = nil // it would log URLs, and tokens in them
	rc.RetryMax = cfg.Retries
	rc.RetryWaitMin = 100 * time.Millisecond
	rc.RetryWaitMax = maxInCallWait
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	rc.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if resp != nil && RetryAfter(resp.Header.Get("Retry-After"), time.Now()) > maxInCallWait {
			return false, nil // the durable schedule waits, not this call
		}
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	// A redirect is an answer, never followed: a POST turned into a GET
	// that answers 200 would count as delivered.
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	rc.HTTPClient.CheckRedirect = noRedirect
	hc := rc.StandardClient()
	hc.Timeout = cfg.Timeout
	hc.CheckRedirect = noRedirect
	return resty.NewWithClient(hc).
		SetRetryCount(0).
		// resty's policy replaces hc.CheckRedirect: it must hand the 3xx
		// over too (NoRedirectPolicy fails the call instead, which reads
		// as retryable, without the status).
		SetRedirectPolicy(resty.RedirectPolicyFunc(noRedirect)).
		SetHeader("User-Agent", "CycleHub/1 (+https://github.com/cyclehub/cyclehub)").
		SetDisableWarn(true)
}

// CloseIdleConnections releases the idle connections of a client from
// NewHTTPClient (they live in the retrying transport's own client).
func CloseIdleConnections(c *resty.Client) {
	if rt, ok := c.GetClient().Transport.(*retryablehttp.RoundTripper); ok && rt.Client != nil && rt.Client.HTTPClient != nil {
		rt.Client.HTTPClient.CloseIdleConnections()
	}
	c.GetClient().CloseIdleConnections()
}

// ClassifyHTTP reads an HTTP exchange as a delivery outcome: nil for 2xx;
// Gone for 410; retryable for 408, 425, 429 and 5xx but 501 (with the
// Retry-After hint); permanent for other answers. what names the call in
// messages (never the URL, which may hold a token).
func ClassifyHTTP(what string, resp *resty.Response, err error) error {
	if err != nil {
		return transportError(what, err)
	}
	status := resp.StatusCode()
	if status >= 200 && status < 300 {
		return nil
	}
	msg := fmt.Errorf("%s: HTTP %d%s", what, status, snippet(resp.Body()))
	switch {
	case status == http.StatusGone:
		return &PermanentError{Err: msg, Status: status, gone: true}
	case status == http.StatusRequestTimeout, status == http.StatusTooEarly, status == http.StatusTooManyRequests,
		status >= 500 && status != http.StatusNotImplemented:
		return &RetryableError{Err: msg, Status: status, After: RetryAfter(resp.Header().Get("Retry-After"), time.Now())}
	default:
		return &PermanentError{Err: msg, Status: status}
	}
}

// transportError classifies a failure before any answer: retryable
// (refused, reset, timed out, canceled), without the URL.
func transportError(what string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return &RetryableError{Err: fmt.Errorf("%s: canceled", what)}
	case errors.Is(err, context.DeadlineExceeded):
		return &RetryableError{Err: fmt.Errorf("%s: timed out", what)}
	}
	return &RetryableError{Err: fmt.Errorf("%s: %w", what, err)}
}

// snippet is the start of an error answer's body, for the delivery's
// last_error (destinations say why there).
func snippet(body []byte) string {
	if len(body) > 200 {
		body = body[:200]
	}
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(body), "")), " ")
	if s == "" {
		return ""
	}
	return ": " + s
}

// maxRetryAfter caps a Retry-After: a longer wait, or one too long for a
// time.Duration, reads as this (the pipeline bounds it further).
const maxRetryAfter = 365 * 24 * time.Hour

// RetryAfter reads a Retry-After value: delay-seconds or an HTTP date
// (0 when absent or unreadable), at most maxRetryAfter.
func RetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	// delay-seconds is 1*DIGIT: no sign; too many digits is a long wait.
	if n, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if err != nil || n > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}
