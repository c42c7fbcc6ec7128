package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"
)

// DefaultBaseURL is the dev daemon's listener (configs/cyclehub.yaml).
const DefaultBaseURL = "http://127.0.0.1:8080"

// DefaultTimeout bounds one call.
const DefaultTimeout = 30 * time.Second

// maxResponseBytes caps an answer read into memory (exports stream).
const maxResponseBytes = 64 << 20

// Config says where the API is and how to call it.
type Config struct {
	// BaseURL is the daemon's public listener: http://host:port (a bare
	// host:port means http).
	BaseURL string
	// Token is the admin bearer token (admin.token of the daemon).
	Token string
	// Timeout bounds each call; for an export, the wait for its first
	// byte (the stream itself runs as long as it needs). 0: DefaultTimeout.
	Timeout time.Duration
	// UserAgent names the caller (cyclehub-cli/VERSION).
	UserAgent string
}

// Client calls the admin API. It is safe for concurrent use.
type Client struct {
	base    string
	timeout time.Duration
	http    *resty.Client
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	base, err := normalizeBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(cfg.Token) == "" {
		return nil, errors.New("no admin token")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "cyclehub-adminclient"
	}
	// No http.Client timeout: it would cut an export's stream. Each call
	// gets its deadline from its context instead.
	r := resty.NewWithClient(&http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}).
		SetBaseURL(base).
		SetAuthToken(cfg.Token).
		SetRetryCount(0).
		SetResponseBodyLimit(maxResponseBytes).
		SetHeader("Accept", "application/json").
		SetHeader("User-Agent", cfg.UserAgent).
		SetLogger(quietLogger{}).
		SetDisableWarn(true)
	return &Client{base: base, timeout: cfg.Timeout, http: r}, nil
}

// BaseURL is the API address the client calls.
func (c *Client) BaseURL() string { return c.base }

// normalizeBaseURL accepts http(s)://host[:port][/prefix] or host:port.
func normalizeBaseURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		raw = DefaultBaseURL
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("API URL %q: want http://host:port", raw)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// call performs one request within the client's timeout and decodes a
// 2xx JSON answer into out (when not nil). It returns the answer as
// received.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body, out any) (json.RawMessage, error) {
	return c.callWithin(ctx, c.timeout, method, path, query, body, out)
}

// callWithin is call with its own timeout (a bulk operation the API
// takes minutes over).
func (c *Client) callWithin(ctx context.Context, timeout time.Duration, method, path string, query url.Values, body, out any) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req := c.http.R().SetContext(ctx)
	if query != nil {
		req.SetQueryParamsFromValues(query)
	}
	if body != nil {
		req.SetHeader("Content-Type", "application/json").SetBody(body)
	}
	resp, err := req.Execute(method, path)
	if err != nil {
		return nil, c.transportError(ctx, method, path, timeout, err)
	}
	if !resp.IsSuccess() {
		return nil, newAPIError(c.base, method, path, resp.StatusCode(), resp.Body())
	}
	raw := resp.Body()
	if !json.Valid(raw) {
		return nil, fmt.Errorf("%s %s: HTTP %d: the answer is not JSON", method, path, resp.StatusCode())
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
		}
	}
	return raw, nil
}

// stream performs a GET whose 2xx answer the caller reads and closes.
// The client's timeout bounds the wait for the answer's headers only: the
// body streams for as long as it takes (ctx still cancels it).
func (c *Client) stream(ctx context.Context, path string, query url.Values) (io.ReadCloser, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	slow := errors.New("no answer in time")
	timer := time.AfterFunc(c.timeout, func() { cancel(slow) })
	resp, err := c.http.R().SetContext(ctx).SetQueryParamsFromValues(query).
		SetDoNotParseResponse(true).Get(path)
	if !timer.Stop() && err == nil {
		// The answer came as the time ran out: its body is cut already.
		_ = resp.RawBody().Close()
		err = context.DeadlineExceeded
	}
	if err != nil {
		if errors.Is(context.Cause(ctx), slow) {
			err = context.DeadlineExceeded
		}
		err = c.transportError(ctx, http.MethodGet, path, c.timeout, err)
		cancel(nil)
		return nil, err
	}
	body := resp.RawBody()
	if !resp.IsSuccess() {
		defer cancel(nil)
		defer body.Close()
		b, _ := io.ReadAll(io.LimitReader(body, 64<<10))
		return nil, newAPIError(c.base, http.MethodGet, path, resp.StatusCode(), b)
	}
	return &streamBody{ReadCloser: body, cancel: func() { cancel(nil) }}, nil
}

// streamBody releases its request's context when closed.
type streamBody struct {
	io.ReadCloser
	cancel func()
}

func (b *streamBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// transportError says why no answer came, without the query string.
func (c *Client) transportError(ctx context.Context, method, path string, timeout time.Duration, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%s %s: no answer from %s within %s: %w", method, path, c.base, timeout, err)
	case errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("%s %s: canceled: %w", method, path, err)
	}
	return fmt.Errorf("%s %s: cannot reach the admin API at %s: %w", method, path, c.base, err)
}

func compact(b []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return strings.TrimSpace(string(b))
	}
	return buf.String()
}

// quietLogger drops resty's own log lines: errors are returned instead.
type quietLogger struct{}

func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Debugf(string, ...any) {}

// Page selects one page of a newest-first list.
type Page struct {
	// Limit is the page size (the API's default, 50, when 0; at most 500).
	Limit int
	// Before continues after a previous page: its NextBefore.
	Before int64
}

func (p Page) values() url.Values {
	q := url.Values{}
	if p.Limit > 0 {
		q.Set("limit", fmt.Sprint(p.Limit))
	}
	if p.Before > 0 {
		q.Set("before", fmt.Sprint(p.Before))
	}
	return q
}

// rfc3339 formats a bound for the API ("" for the zero time).
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func setIf(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}
