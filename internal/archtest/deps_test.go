package archtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/cyclehub/cyclehub"

// allowed lists, per package prefix, which of our packages it may import
// (non-test code). A package matches the longest prefix.
var allowed = map[string][]string{
	"mapping":              {},
	"internal/secret":      {},
	"webhooks":             {"mapping", "internal/secret"},
	"store/pgstore":        {"mapping", "internal/secret"},
	"store/pgstore/pgtest": {"store/pgstore", "internal/secret", "internal/testsvc"},
	"store/redisstore":     {"mapping", "internal/secret"},
	"connectors":           {"mapping", "connectors", "internal/secret", "internal/breaker"},
	"pipeline":             {"mapping", "internal/breaker"},
	"internal/breaker":     {},
	"internal/testsvc":     {},
	"internal/samples":     {},
	"internal/telemetry":   {"pipeline"},
	"internal/ops":         {},
	"internal/adminapi":    {"mapping", "internal/secret", "store/pgstore"},
	"internal/providerapi": {"mapping", "internal/secret"},
	"internal/eventschema": {},
	"internal/adminclient": {},
	"internal/importer":    {"mapping", "pipeline", "store/pgstore"},
	"internal/docgen":      {"internal/docgen", "configs", "connectors", "internal/secret"},
	"configs":              {"webhooks", "store/pgstore", "store/redisstore", "connectors", "connectors/kafkasink", "connectors/enrichhttp", "connectors/webhooksink", "connectors/slacksink", "connectors/hubspotsink", "pipeline", "internal/secret", "internal/providerapi", "mapping"},
	"cmd":                  {"*"},
	"internal/archtest":    {},
}

func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(strings.TrimPrefix(fields[0], module), "/")
		rule := ruleFor(pkg)
		if rule == nil {
			t.Errorf("package %s has no dependency rule: add it to allowed", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			dep := strings.TrimPrefix(imp, module+"/")
			if strings.HasPrefix(dep, "cmd") {
				t.Errorf("%s imports %s: nothing imports cmd", pkg, dep)
			}
			if slices.Contains(rule, "*") || slices.ContainsFunc(rule, func(a string) bool { return dep == a || strings.HasPrefix(dep, a+"/") }) {
				continue
			}
			t.Errorf("%s must not import %s (DESIGN.md §4)", pkg, dep)
		}
	}
}

func ruleFor(pkg string) []string {
	best, bestLen := []string(nil), -1
	for prefix, rule := range allowed {
		if (pkg == prefix || strings.HasPrefix(pkg, prefix+"/")) && len(prefix) > bestLen {
			best, bestLen = rule, len(prefix)
		}
	}
	return best
}

// mapping stays pure: no I/O, no logging, no clock.
func TestMappingIsPure(t *testing.T) {
	files, err := filepath.Glob("../../mapping/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("glob: %v", err)
	}
	forbidden := []string{`"os"`, `"net/http"`, `"log"`, `"log/slog"`, `logrus`, `time.Now(`, `"math/rand`, `"database/sql"`, `"io/ioutil"`}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range forbidden {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s uses %s: mapping must stay pure", filepath.Base(f), bad)
			}
		}
	}
}
