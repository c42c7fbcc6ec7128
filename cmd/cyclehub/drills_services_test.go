//go:build drills

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/internal/testsvc"
)

// What drills take down and watch (drills_test.go): the daemon in
// process with its logs kept aside, the daemon as a subprocess, a Redis
// server of its own.

// logTail keeps a daemon's last log lines and the first line of each
// distinct message with its count (an outage repeats a few messages
// thousands of times), shown only if the drill fails.
type logTail struct {
	mu       sync.Mutex
	lines    []string
	total    int
	distinct []string       // first line of each message, in order
	counts   map[string]int // message → lines
}

const logTailLines = 40

var logMsg = regexp.MustCompile(`msg="((?:[^"\\]|\\.)*)"`)

func (l *logTail) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		l.add(line)
	}
	return len(p), nil
}

func (l *logTail) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total++
	l.lines = append(l.lines, line)
	if len(l.lines) > logTailLines {
		l.lines = l.lines[len(l.lines)-logTailLines:]
	}
	key := line
	if m := logMsg.FindStringSubmatch(line); m != nil {
		key = m[1]
	}
	if l.counts == nil {
		l.counts = map[string]int{}
	}
	if l.counts[key] == 0 && len(l.distinct) < 200 {
		l.distinct = append(l.distinct, line)
	}
	l.counts[key]++
}

func (l *logTail) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.distinct, func(line string) bool { return strings.Contains(line, s) }) ||
		slices.ContainsFunc(l.lines, func(line string) bool { return strings.Contains(line, s) })
}

// dumpOnFailure shows the logs when the test has failed.
func (l *logTail) dumpOnFailure(t *testing.T, name string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		var b strings.Builder
		for _, line := range l.distinct {
			key := line
			if m := logMsg.FindStringSubmatch(line); m != nil {
				key = m[1]
			}
			fmt.Fprintf(&b, "%6d× %s\n", l.counts[key], line)
		}
		t.Logf("%s: %d log lines; each distinct message, first time seen:\n%s\nlast %d lines:\n%s",
			name, l.total, b.String(), len(l.lines), strings.Join(l.lines, "\n"))
	})
}

// startQuietDaemon runs the daemon in process, as startDaemon does, but
// keeps its (warn-level) logs to itself: a drill's outage logs a line per
// refused request. They are shown if the drill fails.
func startQuietDaemon(t *testing.T, cfg *configs.Config) *daemon {
	t.Helper()
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatalf("drill config invalid: %v", errs)
	}
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &logTail{}
	logs.dumpOnFailure(t, "daemon")
	logger := logrus.New()
	logger.SetOutput(logs)
	logger.SetLevel(logrus.WarnLevel)
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemon{t: t, cfg: cfg, cancel: cancel, done: make(chan error, 1), reloads: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		d.done <- serve(ctx, cfg, logger, serveOptions{
			httpListener: httpLn, opsListener: opsLn,
			ready: func(h, o string) { d.httpAddr, d.opsAddr = h, o; close(ready) },
		})
	}()
	select {
	case <-ready:
	case err := <-d.done:
		t.Fatalf("daemon exited before serving: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not start within 30s")
	}
	t.Cleanup(d.stop)
	return d
}

// raceBuild reports whether this test binary has the race detector, so
// the daemon subprocess gets it too.
func raceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// buildDrillDaemon compiles the daemon, with -race when the tests have it.
func buildDrillDaemon(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cyclehub")
	args := []string{"build", "-o", bin}
	if raceBuild() {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// drillProcess is a `cyclehub serve` subprocess that keeps its addresses,
// database and Redis keys across restarts, as a real restart does.
type drillProcess struct {
	t                 *testing.T
	bin, cfgPath      string
	env               []string
	httpAddr, opsAddr string
	logs              *logTail
	cmd               *exec.Cmd
	exited            chan struct{}
}

func newDrillProcess(t *testing.T, bin, pgURL string, brokers []string, extra string) *drillProcess {
	t.Helper()
	redisURL, prefix := testsvc.RedisURL(t)
	p := &drillProcess{t: t, bin: bin, logs: &logTail{},
		httpAddr: fmt.Sprintf("127.0.0.1:%d", testsvc.FreePort(t)),
		opsAddr:  fmt.Sprintf("127.0.0.1:%d", testsvc.FreePort(t)),
		cfgPath:  filepath.Join(t.TempDir(), "cyclehub.yaml")}
	cfgText := `
redis: {key_prefix: "` + prefix + `"}
mappings_dir: ` + configsAbs(t, "mappings") + `
rules_dir: ` + configsAbs(t, "rules") + `
admin: {token: ` + testAdminToken + `}
privacy: {suppression_key: test-suppression-key-0123}
kafka: {partitions: 3}
pipeline: {poll_interval: 50ms}
relay: {poll_interval: 50ms}
sources:
  form: {provider: form, default_region: BR}
log: {level: warn}
` + extra
	if err := os.WriteFile(p.cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	p.env = append(os.Environ(),
		"CYCLEHUB_POSTGRES_URL="+pgURL, "CYCLEHUB_REDIS_URL="+redisURL,
		"CYCLEHUB_KAFKA_BROKERS="+strings.Join(brokers, ","),
		"CYCLEHUB_HTTP_ADDR="+p.httpAddr, "CYCLEHUB_OPS_ADDR="+p.opsAddr,
		"GORACE=halt_on_error=0 exitcode=66")
	p.logs.dumpOnFailure(t, "daemon subprocess")
	t.Cleanup(func() {
		if p.cmd != nil {
			p.kill()
		}
		if p.logs.contains("WARNING: DATA RACE") {
			t.Error("the daemon subprocess reported a data race (log tail above)")
		}
	})
	return p
}

// start runs the daemon and waits until it is ready.
func (p *drillProcess) start() {
	p.t.Helper()
	cmd := exec.Command(p.bin, "serve", "--config", p.cfgPath)
	cmd.Env = p.env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	exited := p.exited
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.logs.add(sc.Text())
		}
		close(exited)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + p.opsAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatal("daemon subprocess not ready within 60s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL to the daemon (by its PID) and reaps it.
func (p *drillProcess) kill() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	_ = p.cmd.Wait()
	p.cmd = nil
}

// terminate sends SIGTERM and returns the exit error (nil: exit 0).
func (p *drillProcess) terminate(within time.Duration) error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		<-p.exited
		done <- p.cmd.Wait()
	}()
	select {
	case err := <-done:
		p.cmd = nil
		return err
	case <-time.After(within):
		p.kill()
		return fmt.Errorf("not stopped %s after SIGTERM (killed)", within)
	}
}

// redisServer is a redis-server subprocess of one drill, on its own port,
// without persistence: stopping and starting it is a Redis restart that
// loses every key.
type redisServer struct {
	t    *testing.T
	bin  string
	port int
	cmd  *exec.Cmd
}

func startRedisServer(t *testing.T, bin string) *redisServer {
	t.Helper()
	r := &redisServer{t: t, bin: bin, port: testsvc.FreePort(t)}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) start() {
	r.t.Helper()
	cmd := exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "")
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("redis-server: %v", err)
	}
	r.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", r.port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			r.stop()
			r.t.Fatalf("redis-server on port %d not up within 10s: %v", r.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the server by its PID (as a crash would).
func (r *redisServer) stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	_ = r.cmd.Wait()
	r.cmd = nil
}

// redisOutage is a Redis a drill stops and starts again, empty.
type redisOutage interface {
	url() string
	stop()
	start()
}

// redisProxy stands in for a Redis server of the drill's own when
// redis-server is not installed: a loopback TCP proxy in front of the
// shared Redis. stop closes it and every connection through it; start
// listens again on the same port after deleting the drill's keys, as a
// restart without persistence would.
type redisProxy struct {
	t      *testing.T
	target string
	flush  func()
	port   int

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

func startRedisProxy(t *testing.T, sharedURL, prefix string) *redisProxy {
	t.Helper()
	u, err := url.Parse(sharedURL)
	if err != nil {
		t.Fatal(err)
	}
	p := &redisProxy{t: t, target: u.Host, port: testsvc.FreePort(t), conns: map[net.Conn]bool{},
		flush: func() { testsvc.FlushRedisPrefix(t, sharedURL, prefix) }}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *redisProxy) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", p.port) }

func (p *redisProxy) start() {
	p.t.Helper()
	p.flush()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.port))
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.DialTimeout("tcp", p.target, time.Second)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				dst.Close()
				src.Close()
			}
			go pipe(up, c)
			go pipe(c, up)
		}
	}()
}

func (p *redisProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return
	}
	p.ln.Close()
	p.ln = nil
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}
