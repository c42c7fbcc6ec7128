package docgen

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/connectors"
	"github.com/cyclehub/cyclehub/connectors/hubspotsink"
	"github.com/cyclehub/cyclehub/connectors/webhooksink"
)

// repoRoot is the repository root, seen from this package's directory.
const repoRoot = "../.."

func TestTheCheckedInConnectorReferenceIsUpToDate(t *testing.T) {
	want, err := ConnectorReference()
	if err != nil {
		t.Fatalf("ConnectorReference: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(repoRoot, ConnectorsPath))
	if err != nil {
		t.Fatalf("%s is missing: run `make docs` (%v)", ConnectorsPath, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run `make docs` and commit the result\n%s", ConnectorsPath, firstDifference(got, want))
	}
}

// firstDifference shows the first line where the checked-in page and the
// rendered one differ.
func firstDifference(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "first difference at line " + strconv.Itoa(i+1) + ":\n  checked in: " + gl + "\n  from code:  " + wl
		}
	}
	return ""
}

func TestRequiredKeysAreWhatValidateRefusesOnTheDefaults(t *testing.T) {
	for _, tt := range []struct {
		name     string
		block    reflect.Type
		required []string
		optional []string
	}{
		{"webhook needs a url and a signing secret", reflect.TypeFor[webhooksink.Config](),
			[]string{"url", "secrets", "secrets[].secret"}, []string{"secrets[].until", "headers", "http.timeout"}},
		{"hubspot needs only its token", reflect.TypeFor[hubspotsink.Config](),
			[]string{"token"}, []string{"base_url", "id_property", "customer_id_property", "properties", "status_property"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := requiredKeys(newDefault(tt.block))
			for _, k := range tt.required {
				if !req[k] {
					t.Errorf("%s should be required; required keys: %v", k, req)
				}
			}
			for _, k := range tt.optional {
				if req[k] {
					t.Errorf("%s should be optional (it has a default)", k)
				}
			}
		})
	}
}

func TestTheClassificationTableIsProbedFromTheCode(t *testing.T) {
	want := map[int]connectors.Outcome{
		200: connectors.Delivered, 204: connectors.Delivered, 301: connectors.Dead, 400: connectors.Dead,
		408: connectors.Retry, 410: connectors.Disable, 425: connectors.Retry, 429: connectors.Retry,
		500: connectors.Retry, 501: connectors.Dead, 503: connectors.Retry,
	}
	for status, outcome := range want {
		if got, _ := probe(status); got != outcome {
			t.Errorf("status %d: outcome %v, want %v", status, got, outcome)
		}
	}
	if _, ra := probe(503); !ra {
		t.Error("a 503's Retry-After should be kept")
	}
	rows := classRows()
	if rows[0].from != 200 || rows[len(rows)-1].to != 599 {
		t.Errorf("rows should cover 200 to 599, got %d to %d", rows[0].from, rows[len(rows)-1].to)
	}
}

func TestDefaultsReadAsAConfigFileWritesThem(t *testing.T) {
	for d, want := range map[time.Duration]string{
		2 * time.Minute: "2m", 6 * time.Hour: "6h", 90 * time.Minute: "1h30m", 250 * time.Millisecond: "250ms", 10 * time.Second: "10s",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%s) = %q, want %q", d, got, want)
		}
	}
	if got := normalizeKey("secrets[12].secret"); got != "secrets[].secret" {
		t.Errorf("normalizeKey: %q", got)
	}
}
