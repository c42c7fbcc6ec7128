package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
)

// stream reads the lifecycle topic from the offsets it had when the run
// began, one reader per partition (no consumer group: no rebalance pauses
// in the measurement), and hands every event to the tracker.
type stream struct {
	readers []*kafka.Reader
	track   *tracker
	// errs counts events that could not be read as CloudEvents.
	mu   sync.Mutex
	bad  int
	read int
}

// openStream looks the topic's partitions and end offsets up on brokers
// and positions a reader at each end. It fails when the topic does not
// exist (the daemon creates it at start-up).
func openStream(ctx context.Context, brokers []string, topic string, track *tracker) (*stream, error) {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("kafka metadata: %w", err)
	}
	if len(meta.Topics) != 1 || meta.Topics[0].Error != nil || len(meta.Topics[0].Partitions) == 0 {
		var terr error
		if len(meta.Topics) == 1 {
			terr = meta.Topics[0].Error
		}
		return nil, fmt.Errorf("kafka topic %s not found (is the daemon running?): %v", topic, terr)
	}
	var reqs []kafka.OffsetRequest
	for _, p := range meta.Topics[0].Partitions {
		reqs = append(reqs, kafka.LastOffsetOf(p.ID))
	}
	offs, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("kafka list offsets: %w", err)
	}
	s := &stream{track: track}
	for _, po := range offs.Topics[topic] {
		if po.Error != nil {
			s.close()
			return nil, fmt.Errorf("kafka offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: brokers, Topic: topic, Partition: po.Partition,
			// The broker answers a fetch as soon as there is a message and
			// holds it up to MaxWait otherwise: a long wait costs no latency,
			// and short ones (the latency benchmark's 5ms) make six readers
			// poll a thousand times a second, taking CPU from the daemon.
			MaxWait: 500 * time.Millisecond, ReadBackoffMin: time.Millisecond, ReadBackoffMax: 5 * time.Millisecond,
		})
		if err := r.SetOffset(po.LastOffset); err != nil {
			_ = r.Close()
			s.close()
			return nil, fmt.Errorf("kafka reader %s/%d: %w", topic, po.Partition, err)
		}
		s.readers = append(s.readers, r)
	}
	return s, nil
}

// run reads every partition until ctx ends.
func (s *stream) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, r := range s.readers {
		wg.Go(func() {
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
						time.Sleep(50 * time.Millisecond) // a broker hiccup: the reader reconnects
						continue
					}
					return
				}
				s.handle(m.Value, time.Now())
			}
		})
	}
	wg.Wait()
}

// handle reads the event id and data.trigger.request_id of one event.
func (s *stream) handle(value []byte, at time.Time) {
	var ev struct {
		ID   string `json:"id"`
		Data struct {
			Trigger struct {
				RequestID string `json:"request_id"`
			} `json:"trigger"`
		} `json:"data"`
	}
	err := json.Unmarshal(value, &ev)
	id, idErr := uuid.Parse(ev.ID)
	s.mu.Lock()
	s.read++
	if err != nil || idErr != nil {
		s.bad++
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	reqID, _ := uuid.Parse(ev.Data.Trigger.RequestID) // "" (a sweep) gives uuid.Nil
	s.track.event(id, reqID, at)
}

// counts returns the events read and those that were not CloudEvents.
func (s *stream) counts() (read, bad int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.read, s.bad
}

func (s *stream) close() {
	for _, r := range s.readers {
		_ = r.Close()
	}
}
