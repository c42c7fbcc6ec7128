package providerapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/cyclehub/cyclehub/internal/secret"
	"github.com/cyclehub/cyclehub/mapping"
)

// Config tunes the API client.
type Config struct {
	// Timeout bounds one call, in-call retries included.
	Timeout time.Duration `yaml:"timeout"`
	// Retries is the number of quick in-call retries of a 5xx, 429 or
	// network error (longer waits go to the durable schedule).
	Retries int `yaml:"retries"`
	// MaxResponseBytes caps a response body.
	MaxResponseBytes int `yaml:"max_response_bytes"`
}

// DefaultConfig returns the defaults documented in the README.
func DefaultConfig() Config {
	return Config{Timeout: 15 * time.Second, Retries: 2, MaxResponseBytes: 8 << 20}
}

// Validate reports every problem with c, each prefixed by its key.
func (c Config) Validate() []error {
	var errs []error
	if c.Timeout < time.Second || c.Timeout > 2*time.Minute {
		errs = append(errs, fmt.Errorf("timeout: must be between 1s and 2m, got %s", c.Timeout))
	}
	if c.Retries < 0 || c.Retries > 5 {
		errs = append(errs, fmt.Errorf("retries: must be between 0 and 5, got %d", c.Retries))
	}
	if c.MaxResponseBytes < 64<<10 {
		errs = append(errs, fmt.Errorf("max_response_bytes: must be at least 65536, got %d", c.MaxResponseBytes))
	}
	return errs
}

// Credentials are one source's API base URL and token.
type Credentials struct {
	Base  string
	Token secret.Secret
}

// maxInCallWait is the longest Retry-After waited for inside a call;
// longer ones are handed to the durable schedule.
const maxInCallWait = 2 * time.Second

// Client performs fetches. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *resty.Client
}

// New returns a client. Retries happen in go-retryablehttp (the transport)
// only; resty's own retries stay off so attempts never multiply.
func New(cfg Config) *Client {
	rc := retryablehttp.NewClient()
	rc.Logger = nil // it would log URLs, and query-string tokens with them
	rc.RetryMax = cfg.Retries
	rc.RetryWaitMin = 200 * time.Millisecond
	rc.RetryWaitMax = maxInCallWait
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	rc.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if resp != nil && retryAfter(resp.Header.Get("Retry-After")) > maxInCallWait {
			return false, nil // the durable schedule waits, not this call
		}
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	hc := rc.StandardClient()
	hc.Timeout = cfg.Timeout
	r := resty.NewWithClient(hc).
		SetRetryCount(0).
		SetResponseBodyLimit(cfg.MaxResponseBytes).
		SetHeader("Accept", "application/json").
		SetHeader("User-Agent", "CycleHub/1 (+https://github.com/cyclehub/cyclehub)").
		SetDisableWarn(true)
	return &Client{cfg: cfg, http: r}
}

// Get performs one fetch and returns the JSON document. Errors are *Error.
func (c *Client) Get(ctx context.Context, cred Credentials, f *mapping.FetchRequest) (json.RawMessage, error) {
	if cred.Base == "" {
		return nil, &Error{Reason: "the source has no api_base: set it to the provider's API URL for your account", permanent: true}
	}
	req := c.http.R().SetContext(ctx)
	for k, v := range f.Headers {
		req.SetHeader(k, v)
	}
	tok := cred.Token.Reveal()
	switch auth := f.Auth; {
	case tok == "":
		// No token configured: the call goes out without credentials (an
		// internal proxy, a test double); a refusal is then final.
	case auth == "bearer" || auth == "":
		req.SetAuthToken(tok)
	case auth == "basic":
		user, pass, _ := strings.Cut(tok, ":")
		req.SetBasicAuth(user, pass)
	case strings.HasPrefix(auth, "header:"):
		req.SetHeader(strings.TrimPrefix(auth, "header:"), tok)
	case strings.HasPrefix(auth, "query:"):
		req.SetQueryParam(strings.TrimPrefix(auth, "query:"), tok)
	default:
		return nil, &Error{Reason: "unknown auth " + auth, permanent: true}
	}
	resp, err := req.Get(strings.TrimSuffix(cred.Base, "/") + f.Path)
	if err != nil {
		return nil, transportError(f, err)
	}
	doc, err := classify(f, resp.StatusCode(), resp.Header(), resp.Body())
	if e, ok := err.(*Error); ok && tok == "" && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden) {
		e.Reason = "fetch " + f.Name + ": HTTP " + strconv.Itoa(e.Status) + ": the source has no api_token: set it"
		e.permanent = true
	}
	return doc, err
}

// transportError describes a failure before any response, without the URL
// (whose query string may hold the token).
func transportError(f *mapping.FetchRequest, err error) *Error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Reason: "fetch " + f.Name + ": canceled", canceled: true}
	}
	return &Error{Reason: fmt.Sprintf("fetch %s: %v", f.Name, err)}
}

// classify turns a response into the document or a classified error.
func classify(f *mapping.FetchRequest, status int, h http.Header, body []byte) (json.RawMessage, error) {
	what := "fetch " + f.Name + ": HTTP " + strconv.Itoa(status)
	detail := apiMessage(body)
	if detail != "" {
		what += " (" + detail + ")"
	}
	switch {
	case status >= 200 && status < 300:
		if !json.Valid(body) {
			// A proxy's HTML page or a truncated body: try again later.
			return nil, &Error{Status: status, Reason: "fetch " + f.Name + ": the response is not JSON"}
		}
		return body, nil
	case status == http.StatusNotFound || status == http.StatusGone:
		return nil, &Error{Status: status, Reason: what, permanent: true, notFound: true}
	case status == http.StatusRequestTimeout || status == http.StatusTooEarly || status == http.StatusTooManyRequests ||
		status >= 500 && status != http.StatusNotImplemented:
		return nil, &Error{Status: status, Reason: what, retryAfter: retryAfter(h.Get("Retry-After"))}
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		// A token can be fixed or granted a scope: keep trying on the
		// durable schedule until the attempts run out.
		return nil, &Error{Status: status, Reason: what + ": check the source's api_token and its permissions"}
	}
	return nil, &Error{Status: status, Reason: what, permanent: true}
}

// apiMessage extracts a provider's error message ({"error":{"message"}},
// {"message"}, {"error"}), shortened; never the body itself.
func apiMessage(body []byte) string {
	var v struct {
		Message string          `json:"message"`
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	msg := v.Message
	if msg == "" && len(v.Error) > 0 {
		var inner struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(v.Error, &inner) == nil && inner.Message != "" {
			msg = inner.Message
		} else {
			_ = json.Unmarshal(v.Error, &msg)
		}
	}
	if len(msg) > 160 {
		msg = msg[:160] + "…"
	}
	return msg
}

// retryAfter reads Retry-After in seconds or as an HTTP date.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
