package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cyclehub/cyclehub/internal/ops"
	"github.com/cyclehub/cyclehub/internal/telemetry"
	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/webhooks"
)

// acceptingInbox stores nothing and accepts everything: the limits under
// test act before the inbox.
type acceptingInbox struct{}

func (acceptingInbox) Append(context.Context, *mapping.RawRequest) (bool, error) { return false, nil }
func (acceptingInbox) Reject(context.Context, *mapping.RawRequest, string) error { return nil }

// limitsConfig is the http section with timeouts short enough to watch.
func limitsConfig() webhooks.Config {
	cfg := webhooks.DefaultConfig()
	cfg.ReadHeaderTimeout = 300 * time.Millisecond
	cfg.ReadTimeout = 1500 * time.Millisecond // far from the header timeout, so each is told apart
	cfg.MaxHeaderBytes = 4096
	cfg.MaxBodyBytes = 1024
	return cfg
}

// startIngestServer serves the webhooks handler (one form source) with
// the server serve builds, on a loopback port.
func startIngestServer(t *testing.T, cfg webhooks.Config) string {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	hooks := webhooks.NewHandler(cfg, map[string]webhooks.SourceConfig{"form": {Provider: "form"}}, nil,
		acceptingInbox{}, nil, logrus.NewEntry(log), time.Now)
	mux := http.NewServeMux()
	hooks.Register(mux)
	return startServer(t, newIngestServer(cfg, mux))
}

func startServer(t *testing.T, srv *http.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serveHTTP(srv, ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// dribble writes head, then body one byte every 50 ms, on a new
// connection, and returns what the server answered and how long after
// the start the connection ended. The dribble outlasts every timeout
// under test by far: an answer or a close before its end is the server's.
func dribble(t *testing.T, addr, head, body string) (answer string, after time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < len(body); i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return // cut off
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(conn)
	after = time.Since(start)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the connection was still open after %s: the server never cut the client off", after)
	}
	return string(b), after
}

// about says a connection ended at timeout: the server's clock starts at
// accept, a little before the client's, and the dribble would have gone
// on for seconds.
func about(after, timeout time.Duration) bool {
	return after > timeout-100*time.Millisecond && after < timeout+500*time.Millisecond
}

// wantCutOff checks that a client whose headers never ended was not
// served: the server closed the connection, with nothing or with its own
// plain-text 400 (what Go 1.26 sends when the header deadline passes),
// never with an answer of a handler.
func wantCutOff(t *testing.T, answer string) {
	t.Helper()
	if answer == "" {
		return
	}
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(answer)), nil)
	if err != nil {
		t.Fatalf("answered %q: %v", answer, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") == "application/json" || !resp.Close {
		t.Errorf("answered %q, want the connection closed unserved", answer)
	}
}

func statusOf(t *testing.T, answer string) int {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(answer)), nil)
	if err != nil {
		t.Fatalf("no HTTP answer in %q: %v", answer, err)
	}
	defer resp.Body.Close()
	return resp.StatusCode
}

func TestIngestServerLimits(t *testing.T) {
	cfg := limitsConfig()
	addr := startIngestServer(t, cfg)
	// 200 header lines of ~20 bytes: 10 s of dribbling at 50 ms a byte.
	var slowHeaders strings.Builder
	for i := range 200 {
		slowHeaders.WriteString("X-Slow-" + strconv.Itoa(i) + ": abcdefgh\r\n")
	}
	form := "email=ana%40example.com&name=Ana&padding=" + strings.Repeat("x", 200)

	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{
			name: "a slowloris client dribbling its headers byte by byte is cut off after read_header_timeout, unserved",
			run: func(t *testing.T) {
				answer, after := dribble(t, addr, "POST /hooks/form HTTP/1.1\r\nHost: x\r\n", slowHeaders.String())
				wantCutOff(t, answer)
				if !about(after, cfg.ReadHeaderTimeout) {
					t.Errorf("cut off after %s, want about read_header_timeout (%s)", after, cfg.ReadHeaderTimeout)
				}
			},
		},
		{
			name: "a client sending its headers in time but dribbling the body is answered 400 and cut off by read_timeout",
			run: func(t *testing.T) {
				head := "POST /hooks/form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
					"Content-Length: " + strconv.Itoa(len(form)) + "\r\n\r\n"
				answer, after := dribble(t, addr, head, form)
				if code := statusOf(t, answer); code != http.StatusBadRequest || !strings.Contains(answer, `"unreadable_body"`) {
					t.Errorf("answered %q, want 400 unreadable_body", answer)
				}
				if !about(after, cfg.ReadTimeout) {
					t.Errorf("cut off after %s, want about read_timeout (%s)", after, cfg.ReadTimeout)
				}
			},
		},
		{
			name: "headers over max_header_bytes are answered 431",
			run: func(t *testing.T) {
				head := "POST /hooks/form HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 3*cfg.MaxHeaderBytes) + "\r\n\r\n"
				answer, _ := dribble(t, addr, head, "")
				if code := statusOf(t, answer); code != http.StatusRequestHeaderFieldsTooLarge {
					t.Errorf("answered %q, want 431", answer)
				}
			},
		},
		{
			name: "headers just under max_header_bytes are served",
			run: func(t *testing.T) {
				body := "email=ana%40example.com"
				head := "POST /hooks/form HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
					"Content-Length: " + strconv.Itoa(len(body)) + "\r\nX-Big: " + strings.Repeat("a", cfg.MaxHeaderBytes-300) + "\r\n\r\n" + body
				answer, _ := dribble(t, addr, head, "")
				if code := statusOf(t, answer); code != http.StatusAccepted {
					t.Errorf("answered %q, want 202", answer)
				}
			},
		},
		{
			name: "a declared body over max_body_bytes is answered 413 with the JSON error",
			run: func(t *testing.T) {
				head := "POST /hooks/form HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
					"Content-Length: " + strconv.FormatInt(cfg.MaxBodyBytes+1, 10) + "\r\n\r\n"
				answer, _ := dribble(t, addr, head, "")
				if code := statusOf(t, answer); code != http.StatusRequestEntityTooLarge || !strings.Contains(answer, `"error":"body_too_large"`) {
					t.Errorf("answered %q, want 413 body_too_large", answer)
				}
			},
		},
		{
			name: "a chunked body growing past max_body_bytes is answered 413 with the JSON error",
			run: func(t *testing.T) {
				chunk := strings.Repeat("a", 512)
				head := "POST /hooks/form HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
					"Transfer-Encoding: chunked\r\n\r\n" + strings.Repeat("200\r\n"+chunk+"\r\n", 3) + "0\r\n\r\n"
				answer, _ := dribble(t, addr, head, "")
				if code := statusOf(t, answer); code != http.StatusRequestEntityTooLarge || !strings.Contains(answer, `"error":"body_too_large"`) {
					t.Errorf("answered %q, want 413 body_too_large", answer)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

func TestOpsServerLimits(t *testing.T) {
	srv := newOpsServer(ops.New(telemetry.New().Registry))
	for name, got := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout,
	} {
		if got <= 0 {
			t.Errorf("ops server %s is %s: unlimited", name, got)
		}
	}
	// pprof refuses a profile at least as long as the write timeout; the
	// default 30 s one must fit.
	if srv.WriteTimeout <= 30*time.Second {
		t.Errorf("ops WriteTimeout %s leaves no room for the default 30 s CPU profile", srv.WriteTimeout)
	}
	if srv.MaxHeaderBytes <= 0 {
		t.Error("ops server MaxHeaderBytes is unlimited")
	}

	t.Run("a slowloris client of the ops listener is cut off after its read header timeout", func(t *testing.T) {
		srv.ReadHeaderTimeout = 300 * time.Millisecond // the limit itself is checked above
		addr := startServer(t, srv)
		answer, after := dribble(t, addr, "GET /metrics HTTP/1.1\r\n", strings.Repeat("X-Slow: a\r\n", 100))
		wantCutOff(t, answer)
		if !about(after, 300*time.Millisecond) {
			t.Errorf("cut off after %s, want about 300ms", after)
		}
	})
}
