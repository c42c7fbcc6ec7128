package testsvc

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
)

// CheckStream reads the topic until it has seen want distinct events and
// checks the contract: per key, sequences 1..n in order once duplicates
// are dropped, and a repeated sequence is the same event (same id). It
// returns the sequences by key.
func CheckStream(t testing.TB, brokers []string, topic string, want int) map[string][]int64 {
	t.Helper()
	seen := map[string][]int64{}
	idOf := map[string]string{} // key/sequence → event id
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupTopics: []string{topic}, GroupID: "check-" + uuid.NewString(),
		StartOffset: kafka.FirstOffset, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	distinct, dups := 0, 0
	for distinct < want {
		m, err := r.FetchMessage(ctx) // no commits: the group is thrown away
		if err != nil {
			t.Fatalf("read: %v (have %d of %d distinct events)", err, distinct, want)
		}
		var ev struct {
			ID       string `json:"id"`
			Sequence string `json:"sequence"`
		}
		if err := json.Unmarshal(m.Value, &ev); err != nil {
			t.Fatal(err)
		}
		seq, err := strconv.ParseInt(ev.Sequence, 10, 64)
		if err != nil {
			t.Fatalf("sequence %q: %v", ev.Sequence, err)
		}
		k := string(m.Key) + "/" + ev.Sequence
		if prev, ok := idOf[k]; ok {
			if prev != ev.ID {
				t.Fatalf("customer %s has two events at sequence %d: %s and %s", m.Key, seq, prev, ev.ID)
			}
			dups++
			continue // at-least-once: the same event again
		}
		idOf[k] = ev.ID
		distinct++
		seqs := seen[string(m.Key)]
		if seq != int64(len(seqs)+1) {
			t.Fatalf("customer %s: sequence %d after %v (a gap or a reorder)", m.Key, seq, seqs)
		}
		seen[string(m.Key)] = append(seqs, seq)
	}
	t.Logf("%d events for %d customers, %d duplicates", distinct, len(seen), dups)
	return seen
}
