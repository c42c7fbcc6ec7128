package kafkasink_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/cyclehub/cyclehub/connectors"
	"github.com/cyclehub/cyclehub/connectors/kafkasink"
	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/mapping"
)

func TestConnectCreatesTheTopicOnceWithTheConfiguredPartitions(t *testing.T) {
	_, brokers := testsvc.Kafka(t)
	cfg := kafkasink.DefaultConfig()
	cfg.Brokers, cfg.Topic, cfg.Partitions = brokers, "lifecycle", 4
	s := kafkasink.New(cfg)
	defer s.Close(context.Background())
	for range 2 { // the second Connect finds it existing
		if err := s.Connect(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := kafka.Dial("tcp", brokers[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions("lifecycle")
	if err != nil || len(parts) != 4 {
		t.Fatalf("partitions = %d (%v), want 4", len(parts), err)
	}
}

func TestWritingToAMissingTopicFailsInsteadOfCreatingIt(t *testing.T) {
	_, brokers := testsvc.Kafka(t)
	cfg := kafkasink.DefaultConfig()
	cfg.Brokers, cfg.Topic, cfg.MaxAttempts, cfg.WriteTimeout = brokers, "never-created", 1, 2*time.Second
	s := kafkasink.New(cfg)
	defer s.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.Write(ctx, []mapping.OutboxRecord{{ID: 1, CustomerID: "c1", EventID: "e1", Type: "t", Sequence: 1, Time: time.Now(), Payload: []byte(`{}`)}})
	if err == nil {
		t.Fatal("write to a missing topic succeeded: it was auto-created")
	}
	var be *connectors.BatchError
	if errors.As(err, &be) && len(be.RecordErrors()) != 1 {
		t.Fatalf("batch error with %d results for 1 record", len(be.RecordErrors()))
	}
}

func TestRecordsArriveKeyedByCustomerWithCloudEventsHeaders(t *testing.T) {
	_, brokers := testsvc.Kafka(t)
	cfg := kafkasink.DefaultConfig()
	cfg.Brokers, cfg.Topic, cfg.Partitions = brokers, "lifecycle", 3
	s := kafkasink.New(cfg)
	defer s.Close(context.Background())
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 14, 10, 59, 50, 0, time.UTC)
	rec := mapping.OutboxRecord{ID: 7, EventID: "0f1e", CustomerID: "cust-1", Type: mapping.TypeCustomerCreated, Sequence: 3, Time: at, Payload: []byte(`{"id":"0f1e"}`)}
	if err := s.Write(context.Background(), []mapping.OutboxRecord{rec}); err != nil {
		t.Fatal(err)
	}
	// murmur2, like the Java client: the same key always lands on the same partition.
	part := kafka.Murmur2Balancer{}.Balance(kafka.Message{Key: []byte("cust-1")}, 0, 1, 2)
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: "lifecycle", Partition: part, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := r.ReadMessage(ctx)
	if err != nil {
		t.Fatalf("not on the murmur2 partition %d: %v", part, err)
	}
	h := map[string]string{}
	for _, x := range m.Headers {
		h[x.Key] = string(x.Value)
	}
	want := map[string]string{
		"ce_specversion": "1.0", "ce_id": "0f1e", "ce_type": mapping.TypeCustomerCreated, "ce_sequence": "3",
		"ce_subject": "customer/cust-1", "ce_partitionkey": "cust-1", "ce_source": mapping.CloudEventSource,
		"ce_time": "2026-03-14T10:59:50Z", "content-type": "application/cloudevents+json; charset=utf-8",
	}
	for k, v := range want {
		if h[k] != v {
			t.Errorf("header %s = %q, want %q", k, h[k], v)
		}
	}
	if string(m.Key) != "cust-1" || string(m.Value) != `{"id":"0f1e"}` {
		t.Fatalf("message = %s / %s", m.Key, m.Value)
	}
}

// Keys land where Java clients (and ksqlDB) put them: Kafka's own murmur2
// test vectors (UtilsTest.testMurmur2), partition = positive hash % count.
func TestMurmur2PlacesKeysLikeTheJavaClient(t *testing.T) {
	partitions := make([]int, 12)
	for i := range partitions {
		partitions[i] = i
	}
	for key, hash := range map[string]int32{
		"21": -973932308, "foobar": -790332482, "a-little-bit-long-string": -985981536,
		"a-little-bit-longer-string": -1486304829, "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		want := int(uint32(hash)&0x7fffffff) % len(partitions)
		if got := (kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: []byte(key)}, partitions...); got != want {
			t.Errorf("%q → partition %d, the Java client's is %d", key, got, want)
		}
	}
}

// The snapshot topic is created compacted; a snapshot is keyed by the
// customer with its version, and a tombstone has no value.
func TestSnapshotsGoToACompactedTopicKeyedByCustomer(t *testing.T) {
	_, brokers := testsvc.Kafka(t)
	cfg := kafkasink.DefaultConfig()
	cfg.Brokers, cfg.Topic, cfg.SnapshotTopic, cfg.Partitions = brokers, "lifecycle", "customers", 3
	s := kafkasink.New(cfg)
	defer s.Close(context.Background())
	ctx := context.Background()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	resp, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: "customers", ConfigNames: []string{"cleanup.policy"}}}})
	if err != nil {
		t.Fatal(err)
	}
	policy := ""
	for _, r := range resp.Resources {
		for _, e := range r.ConfigEntries {
			if e.ConfigName == "cleanup.policy" {
				policy = e.ConfigValue
			}
		}
	}
	if policy != "compact" {
		t.Fatalf("cleanup.policy of the snapshot topic = %q, want compact", policy)
	}
	if err := s.WriteSnapshots(ctx, []mapping.SnapshotRecord{
		{CustomerID: "c1", Version: 3, Payload: []byte(`{"customer_id":"c1","version":3}`)},
		{CustomerID: "c1", Version: 4},
	}); err != nil {
		t.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupTopics: []string{"customers"}, GroupID: "snap-check",
		StartOffset: kafka.FirstOffset, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var got []string
	for len(got) < 2 {
		m, err := r.ReadMessage(rctx)
		if err != nil {
			t.Fatal(err)
		}
		version := ""
		for _, h := range m.Headers {
			if h.Key == "version" {
				version = string(h.Value)
			}
		}
		got = append(got, string(m.Key)+" v"+version+" "+string(m.Value))
	}
	if got[0] != `c1 v3 {"customer_id":"c1","version":3}` || got[1] != "c1 v4 " {
		t.Fatalf("snapshot messages %q", got)
	}
}
