package docgen

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTheCheckedInEventSchemasAreUpToDate(t *testing.T) {
	section, err := EventSchemas(repoRoot)
	if err != nil {
		t.Fatalf("EventSchemas: %v", err)
	}
	page, err := os.ReadFile(filepath.Join(repoRoot, EventsPath))
	if err != nil {
		t.Fatal(err)
	}
	want, err := SpliceEventSchemas(page, section)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(page, want) {
		t.Fatalf("%s is stale: run `make docs` and commit the result\n%s", EventsPath, firstDifference(page, want))
	}
}

func TestEveryEventTypeHasASchemaTable(t *testing.T) {
	section, err := EventSchemas(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"created", "updated", "merged", "erased", "stage_changed", "score_changed"} {
		if !strings.Contains(string(section), "### `cyclehub.customer."+typ+".v1`") {
			t.Errorf("no table for cyclehub.customer.%s.v1", typ)
		}
	}
	// Fields of $ref'd definitions are expanded, with the referring
	// field's own description.
	for _, want := range []string{"| `trigger.request_id` |", "| `scores.fit` | number, 0 to 100 |", "| `contributions.<name>[].points` |",
		"Never holds the keys `email`"} {
		if !strings.Contains(string(section), want) {
			t.Errorf("the section lacks %q", want)
		}
	}
}

func TestSplicingReplacesOnlyTheGeneratedSection(t *testing.T) {
	page := []byte("intro\n" + eventsBeginMark + "\nold\n" + eventsEndMark + "\noutro\n")
	got, err := SpliceEventSchemas(page, []byte(eventsBeginMark+"\nnew\n"+eventsEndMark+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "intro\n" + eventsBeginMark + "\nnew\n" + eventsEndMark + "\noutro\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := SpliceEventSchemas([]byte("no markers"), nil); err == nil {
		t.Error("a page without markers should be an error")
	}
}
