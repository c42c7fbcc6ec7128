package testsvc

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"testing"
)

// Environment variables read by this package.
const (
	EnvPostgresURL = "CYCLEHUB_POSTGRES_URL"
	EnvRedisURL    = "CYCLEHUB_REDIS_URL"
	EnvPGBinDir    = "CYCLEHUB_PG_BINDIR"
)

// Require reports that service is unavailable for the reason why. In CI
// (environment CI=true) the test fails, since CI must never skip integration
// tests; elsewhere it is skipped with a hint to run `make test`.
func Require(t testing.TB, service, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("testsvc: %s is unavailable: %s (CI=true, so this fails instead of skipping)", service, why)
	}
	t.Skipf("testsvc: %s is unavailable: %s; run `make test` (it starts the dev stack), "+
		"or `make up` and `eval \"$(scripts/devstack.sh env)\"` before `go test`", service, why)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testsvc: FreePort: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// randHex returns n random bytes, hex encoded.
func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}
