package kafkasink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/cyclehub/cyclehub/connectors"
	"github.com/cyclehub/cyclehub/mapping"
)

// Config configures the Kafka sink.
type Config struct {
	Brokers []string `yaml:"brokers"`
	Topic   string   `yaml:"topic"`
	// SnapshotTopic, when set, is the compacted topic of each customer's
	// latest record (keyed by customer id; a tombstone on erasure).
	SnapshotTopic string `yaml:"snapshot_topic"`
	// Partitions and ReplicationFactor are used when CycleHub creates the
	// topic at start-up; an existing topic is left as it is.
	Partitions        int `yaml:"partitions"`
	ReplicationFactor int `yaml:"replication_factor"`
	// Partitioner is "murmur2" (the Java client's, so Java and ksqlDB
	// consumers agree on partitions) or "fnv1a" (kafka-go's Hash).
	Partitioner  string        `yaml:"partitioner"`
	BatchTimeout time.Duration `yaml:"batch_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// MaxAttempts is kafka-go's in-call retry count (seconds horizon); the
	// relay retries beyond it.
	MaxAttempts int `yaml:"max_attempts"`
	// MaxMessages is the most messages one Write carries (the relay's
	// batch_size; set by the daemon, not configured). kafka-go allocates a
	// buffer of that many messages for every partition's batch, so a
	// bound near the real batch keeps the publish path from allocating
	// megabytes per write. Zero means 10000, the relay's most.
	MaxMessages int `yaml:"-"`
}

// DefaultConfig returns the defaults documented in the README.
func DefaultConfig() Config {
	return Config{
		Brokers:           []string{"127.0.0.1:19092"},
		Topic:             "cyclehub.lifecycle.v1",
		Partitions:        6,
		ReplicationFactor: 1,
		Partitioner:       "murmur2",
		BatchTimeout:      5 * time.Millisecond,
		WriteTimeout:      10 * time.Second,
		MaxAttempts:       3,
	}
}

// Validate reports every problem with c, each prefixed by its key.
func (c Config) Validate() []error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("brokers: at least one broker is required"))
	}
	for i, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			errs = append(errs, fmt.Errorf("brokers[%d]: %q is not host:port", i, b))
		}
	}
	if c.Topic == "" {
		errs = append(errs, errors.New("topic: must be set"))
	}
	if c.SnapshotTopic != "" && c.SnapshotTopic == c.Topic {
		errs = append(errs, errors.New("snapshot_topic: must differ from topic"))
	}
	if c.Partitions < 1 {
		errs = append(errs, fmt.Errorf("partitions: must be at least 1, got %d", c.Partitions))
	}
	if c.ReplicationFactor < 1 {
		errs = append(errs, fmt.Errorf("replication_factor: must be at least 1, got %d", c.ReplicationFactor))
	}
	if c.Partitioner != "murmur2" && c.Partitioner != "fnv1a" {
		errs = append(errs, fmt.Errorf("partitioner: must be murmur2 or fnv1a, got %q", c.Partitioner))
	}
	if c.BatchTimeout <= 0 || c.BatchTimeout > time.Second {
		errs = append(errs, fmt.Errorf("batch_timeout: must be in (0, 1s], got %s", c.BatchTimeout))
	}
	if c.WriteTimeout <= 0 {
		errs = append(errs, errors.New("write_timeout: must be positive"))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("max_attempts: must be at least 1, got %d", c.MaxAttempts))
	}
	return errs
}

// Sink publishes outbox records to the lifecycle topic, and customer
// snapshots to the snapshot topic.
type Sink struct {
	cfg       Config
	writer    *kafka.Writer
	snapshots *kafka.Writer
}

var _ connectors.Connector = (*Sink)(nil)

// maxBatchBytes is kafka-go's per-partition batch cap; the relay's
// batch_bytes stays below it so each partition's share of a batch goes out
// as one atomic produce.
const maxBatchBytes = 1 << 20

// New returns a sink; Connect must be called before Write.
func New(cfg Config) *Sink {
	var balancer kafka.Balancer = kafka.Murmur2Balancer{}
	if cfg.Partitioner == "fnv1a" {
		balancer = &kafka.Hash{}
	}
	batchSize := cfg.MaxMessages
	if batchSize <= 0 {
		batchSize = 10000
	}
	writer := func(topic string) *kafka.Writer {
		return &kafka.Writer{
			Addr:                   kafka.TCP(cfg.Brokers...),
			Topic:                  topic,
			Balancer:               balancer,
			RequiredAcks:           kafka.RequireAll,
			BatchSize:              batchSize,
			BatchBytes:             maxBatchBytes,
			BatchTimeout:           cfg.BatchTimeout,
			WriteTimeout:           cfg.WriteTimeout,
			ReadTimeout:            cfg.WriteTimeout,
			MaxAttempts:            cfg.MaxAttempts,
			WriteBackoffMin:        50 * time.Millisecond,
			WriteBackoffMax:        time.Second,
			AllowAutoTopicCreation: false,
		}
	}
	s := &Sink{cfg: cfg, writer: writer(cfg.Topic)}
	if cfg.SnapshotTopic != "" {
		s.snapshots = writer(cfg.SnapshotTopic)
	}
	return s
}

// Connect creates the topics with the configured partitions and
// replication if they do not exist (the snapshot topic compacted). The
// writers never auto-create topics; an existing topic is left as it is.
func (s *Sink) Connect(ctx context.Context) error {
	topics := []kafka.TopicConfig{{
		Topic:             s.cfg.Topic,
		NumPartitions:     s.cfg.Partitions,
		ReplicationFactor: s.cfg.ReplicationFactor,
	}}
	if s.snapshots != nil {
		// Same partitions and partitioner: a customer's snapshot and
		// events share a partition number.
		topics = append(topics, kafka.TopicConfig{
			Topic:             s.cfg.SnapshotTopic,
			NumPartitions:     s.cfg.Partitions,
			ReplicationFactor: s.cfg.ReplicationFactor,
			ConfigEntries:     []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}},
		})
	}
	client := &kafka.Client{Addr: kafka.TCP(s.cfg.Brokers...), Timeout: 10 * time.Second}
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: topics})
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for _, t := range topics {
		if err := resp.Errors[t.Topic]; err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t.Topic, err)
		}
	}
	return nil
}

// SnapshotsEnabled reports whether a snapshot topic is configured.
func (s *Sink) SnapshotsEnabled() bool { return s.snapshots != nil }

// WriteSnapshots publishes customer snapshots to the compacted topic: key
// the customer id, value the snapshot JSON, or no value (a tombstone).
func (s *Sink) WriteSnapshots(ctx context.Context, recs []mapping.SnapshotRecord) error {
	if s.snapshots == nil || len(recs) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		msgs[i] = kafka.Message{Key: []byte(r.CustomerID), Value: r.Payload, Headers: []kafka.Header{
			{Key: "content-type", Value: []byte("application/json")},
			// The record version: keep the highest when a takeover
			// writes an older one late.
			{Key: "version", Value: []byte(fmt.Sprint(r.Version))},
		}}
	}
	if err := s.snapshots.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("write snapshots: %w", err)
	}
	return nil
}

// Write publishes batch synchronously; see connectors.Connector.
func (s *Sink) Write(ctx context.Context, batch []mapping.OutboxRecord) error {
	msgs := make([]kafka.Message, len(batch))
	for i, r := range batch {
		msgs[i] = kafka.Message{
			Key:     []byte(r.CustomerID),
			Value:   r.Payload,
			Time:    r.Time,
			Headers: Headers(r),
		}
	}
	err := s.writer.WriteMessages(ctx, msgs...)
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) && len(werrs) == len(batch) {
		return &connectors.BatchError{Errs: werrs}
	}
	return err
}

// Headers returns the Kafka headers of a record: the content type of the
// structured CloudEvent and the ce_* attributes, so consumers can route
// without parsing the value.
func Headers(r mapping.OutboxRecord) []kafka.Header {
	return []kafka.Header{
		{Key: "content-type", Value: []byte("application/cloudevents+json; charset=utf-8")},
		{Key: "ce_specversion", Value: []byte("1.0")},
		{Key: "ce_id", Value: []byte(r.EventID)},
		{Key: "ce_source", Value: []byte(mapping.CloudEventSource)},
		{Key: "ce_type", Value: []byte(r.Type)},
		{Key: "ce_subject", Value: []byte("customer/" + r.CustomerID)},
		{Key: "ce_time", Value: []byte(r.Time.UTC().Format(time.RFC3339Nano))},
		{Key: "ce_sequence", Value: []byte(fmt.Sprint(r.Sequence))},
		{Key: "ce_partitionkey", Value: []byte(r.CustomerID)},
	}
}

// Close flushes pending writes and closes connections.
func (s *Sink) Close(context.Context) error {
	err := s.writer.Close()
	if s.snapshots != nil {
		err = errors.Join(err, s.snapshots.Close())
	}
	if err != nil {
		return fmt.Errorf("close kafka writers: %w", err)
	}
	return nil
}
