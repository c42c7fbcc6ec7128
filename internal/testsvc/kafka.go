package testsvc

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Kafka starts an in-process Kafka-protocol cluster (franz-go's kfake) for
// the test and returns it with its broker addresses. It has one broker on a
// random free port of 127.0.0.1 (kfake always binds 127.0.0.1), no topics
// and no automatic topic creation unless opts say otherwise; opts are
// applied after these defaults, e.g. kfake.NumBrokers(3),
// kfake.SeedTopics(3, "events") or kfake.AllowAutoTopicCreation(). The
// cluster is closed when the test ends.
func Kafka(t testing.TB, opts ...kfake.Opt) (*kfake.Cluster, []string) {
	t.Helper()
	all := append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)
	c, err := kfake.NewCluster(all...)
	if err != nil {
		t.Fatalf("testsvc: starting kfake cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()
}
