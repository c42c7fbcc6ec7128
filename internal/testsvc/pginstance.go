package testsvc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// PGInstance is a throwaway PostgreSQL server owned by one test, for tests
// of outages: [PGInstance.Stop] takes it down, [PGInstance.Start] brings it
// back on the same port with the same data. It listens on 127.0.0.1 only
// (no Unix socket), trusts every local connection, and is stopped and
// deleted when the test ends.
type PGInstance struct {
	t      testing.TB
	bindir string
	dir    string // instance root: data/, pg.log, owner.pid
	port   int
	cred   *syscall.Credential // run server binaries as this user (when we are root)
}

var pgSweepOnce sync.Once

// StartPostgres initializes and starts a new PostgreSQL server for the test
// on a free port of 127.0.0.1. It needs the server binaries
// (CYCLEHUB_PG_BINDIR, else /usr/lib/postgresql/<newest>/bin; missing: see
// [Require]). When the test runs as root, the server runs as the `postgres`
// OS user from a directory under os.TempDir() that it owns.
func StartPostgres(t testing.TB) *PGInstance {
	t.Helper()
	bindir, err := pgBinDir()
	if err != nil {
		Require(t, "postgres server binaries", err.Error())
	}
	p := &PGInstance{t: t, bindir: bindir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			Require(t, "postgres OS user", "running as root, and PostgreSQL refuses to run as root: "+err.Error())
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	pgSweepOnce.Do(func() { sweepStaleInstances(p.bindir, p.cred) })

	// t.TempDir() would be 0700 and root's: the postgres user could not
	// reach it. Make our own, traversable, directory.
	p.dir, err = os.MkdirTemp("", "testsvc-pg-")
	if err != nil {
		t.Fatalf("testsvc: %v", err)
	}
	t.Cleanup(func() {
		if err := p.stop("immediate"); err != nil {
			// Keep the directory: the next run's sweep stops the server
			// it holds and removes it.
			t.Logf("testsvc: %v; leaving %s to the next run's sweep", err, p.dir)
			return
		}
		if err := os.RemoveAll(p.dir); err != nil {
			t.Logf("testsvc: removing %s: %v", p.dir, err)
		}
	})
	if err := os.WriteFile(filepath.Join(p.dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatalf("testsvc: %v", err)
	}
	if err := os.Chmod(p.dir, 0o755); err != nil {
		t.Fatalf("testsvc: %v", err)
	}
	if p.cred != nil {
		if err := os.Chown(p.dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			t.Fatalf("testsvc: %v", err)
		}
		// Every parent must be traversable by the postgres user.
		if out, err := p.command(context.Background(), "/bin/sh", "-c", `test -w "$1" && test -x "$1"`, "sh", p.dir).CombinedOutput(); err != nil {
			t.Fatalf("testsvc: the postgres OS user cannot use %s (%v %s): make os.TempDir() (TMPDIR) reachable for it", p.dir, err, out)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := p.command(ctx, filepath.Join(p.bindir, "initdb"),
		"-D", p.dataDir(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
	).CombinedOutput()
	if err != nil {
		t.Fatalf("testsvc: initdb: %v\n%s", err, out)
	}

	// The port was free a moment ago; if someone took it since, try another.
	for attempt := 1; ; attempt++ {
		p.port = FreePort(t)
		err := p.start()
		if err == nil {
			break
		}
		if attempt < 5 && strings.Contains(p.logTail(), "could not bind") {
			continue
		}
		t.Fatalf("testsvc: starting postgres: %v", err)
	}
	return p
}

// URL returns postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable.
func (p *PGInstance) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// Port returns the TCP port the server listens on.
func (p *PGInstance) Port() int { return p.port }

// Stop stops the server abruptly (pg_ctl stop -m immediate, like a crash:
// clients see their connections drop; the next Start runs crash recovery).
// Stopping a stopped server does nothing.
func (p *PGInstance) Stop() {
	p.t.Helper()
	if err := p.stop("immediate"); err != nil {
		p.t.Fatalf("testsvc: stopping postgres: %v", err)
	}
}

// Start starts the stopped server again on the same port (pg_ctl start -w).
// Starting a running server does nothing.
func (p *PGInstance) Start() {
	p.t.Helper()
	if p.running() {
		return
	}
	if err := p.start(); err != nil {
		p.t.Fatalf("testsvc: starting postgres: %v", err)
	}
}

func (p *PGInstance) dataDir() string { return filepath.Join(p.dir, "data") }
func (p *PGInstance) logFile() string { return filepath.Join(p.dir, "pg.log") }

func (p *PGInstance) start() error {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// -k '': no Unix socket (a long TMPDIR could exceed the socket path
	// limit); clients use TCP.
	opts := fmt.Sprintf("-p %d -k '' -c listen_addresses=127.0.0.1 -c max_connections=100", p.port)
	out, err := p.command(ctx, filepath.Join(p.bindir, "pg_ctl"),
		"start", "-D", p.dataDir(), "-l", p.logFile(), "-w", "-t", "60", "-o", opts,
	).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s\nlog:\n%s", err, out, p.logTail())
	}
	return nil
}

func (p *PGInstance) stop(mode string) error {
	if !p.running() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := p.command(ctx, filepath.Join(p.bindir, "pg_ctl"),
		"stop", "-D", p.dataDir(), "-m", mode, "-w", "-t", "60",
	).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// running reports whether pg_ctl sees a server on the data directory.
func (p *PGInstance) running() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return p.command(ctx, filepath.Join(p.bindir, "pg_ctl"), "status", "-D", p.dataDir()).Run() == nil
}

func (p *PGInstance) logTail() string {
	b, _ := os.ReadFile(p.logFile())
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

func (p *PGInstance) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return pgCommand(ctx, p.cred, p.dir, name, args...)
}

func pgCommand(ctx context.Context, cred *syscall.Credential, dir, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// pgBinDir finds the directory holding initdb and pg_ctl.
func pgBinDir() (string, error) {
	has := func(d string) bool {
		for _, f := range []string{"initdb", "pg_ctl", "postgres"} {
			if st, err := os.Stat(filepath.Join(d, f)); err != nil || st.IsDir() {
				return false
			}
		}
		return true
	}
	if d := os.Getenv(EnvPGBinDir); d != "" {
		if !has(d) {
			return "", fmt.Errorf("%s=%s does not hold initdb, pg_ctl and postgres", EnvPGBinDir, d)
		}
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(d string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(d)), 64)
		return v
	}
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	return "", errors.New(EnvPGBinDir + " is not set and no /usr/lib/postgresql/*/bin holds initdb and pg_ctl")
}

// sweepStaleInstances stops and deletes instances left behind by test
// processes that no longer exist (killed before their clean-up ran).
func sweepStaleInstances(bindir string, cred *syscall.Credential) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "testsvc-pg-*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			continue // being created, or not ours
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		data := filepath.Join(dir, "data")
		if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_ = pgCommand(ctx, cred, dir, filepath.Join(bindir, "pg_ctl"), "stop", "-D", data, "-m", "immediate", "-w").Run()
			cancel()
		}
		_ = os.RemoveAll(dir)
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
