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
