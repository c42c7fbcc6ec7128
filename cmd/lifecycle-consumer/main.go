// Command lifecycle-consumer is an example consumer of CycleHub's
// lifecycle stream, written only from the stream contract (README,
// docs/stream.md): it imports nothing of CycleHub's. It reads the topic
// from the beginning, drops duplicates and stale events by each
// customer's sequence, and rebuilds every customer's lifecycle: stage,
// status, band, stage history, merges and erasures.
//
//	go run ./cmd/lifecycle-consumer -brokers 127.0.0.1:19092 -once
//
// With -once it stops at the end of the topic and prints the customers as
// JSON; without it, it follows the topic and prints each change.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// Customer is a customer's lifecycle as rebuilt from the stream.
type Customer struct {
	ID         string            `json:"customer_id"`
	Version    int64             `json:"version"`
	Stage      string            `json:"stage,omitempty"`
	Status     string            `json:"customer_status,omitempty"`
	Band       string            `json:"band,omitempty"`
	Model      string            `json:"model,omitempty"`
	History    []Stint           `json:"stage_history,omitempty"`
	Traits     map[string]string `json:"traits,omitempty"`
	MergedInto string            `json:"merged_into,omitempty"`
	Erased     bool              `json:"erased,omitempty"`
	// Gaps counts sequences skipped (legitimate only before erased.v1).
	Gaps int `json:"gaps,omitempty"`
}

// Stint is one stage of the history.
type Stint struct {
	Stage     string    `json:"stage"`
	EnteredAt time.Time `json:"entered_at"`
	Rule      string    `json:"rule_id"`
	Trigger   string    `json:"trigger"`
}

// event is the CloudEvent envelope and the data fields this consumer uses.
type event struct {
	ID       string          `json:"id"`
	Source   string          `json:"source"`
	Type     string          `json:"type"`
	Time     time.Time       `json:"time"`
	Sequence string          `json:"sequence"`
	Data     json.RawMessage `json:"data"`
}

type eventData struct {
	Traits     map[string]string `json:"traits"`
	ToStage    string            `json:"to_stage"`
	RuleID     string            `json:"rule_id"`
	Status     *string           `json:"customer_status"`
	StatusTo   *string           `json:"customer_status_to"`
	SurvivorID string            `json:"survivor_id"`
	MergedID   string            `json:"merged_id"`
	Scores     *struct {
		Band  string `json:"band"`
		Model string `json:"model"`
	} `json:"scores"`
	Trigger struct {
		EventType string `json:"event_type"`
	} `json:"trigger"`
}

// Rebuilder folds events into customers. It is safe for one partition
// reader per partition (a customer's events are all in one partition).
type Rebuilder struct {
	mu        sync.Mutex
	customers map[string]*Customer
	seen      map[string]bool // source + id: the contract's dedup key
}

// NewRebuilder returns an empty rebuilder.
func NewRebuilder() *Rebuilder {
	return &Rebuilder{customers: map[string]*Customer{}, seen: map[string]bool{}}
}

// Apply folds one message (key = customer id) in. It reports whether the
// event changed anything (false for a duplicate or a stale event).
func (r *Rebuilder) Apply(key, value []byte) (bool, error) {
	var ev event
	if err := json.Unmarshal(value, &ev); err != nil {
		return false, fmt.Errorf("not a CloudEvent: %w", err)
	}
	seq, err := strconv.ParseInt(ev.Sequence, 10, 64)
	if err != nil {
		return false, fmt.Errorf("event %s: sequence %q: %w", ev.ID, ev.Sequence, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[ev.Source+"/"+ev.ID] {
		return false, nil // at-least-once: a redelivery
	}
	c := r.customers[string(key)]
	if c == nil {
		c = &Customer{ID: string(key)}
		r.customers[c.ID] = c
	}
	if seq <= c.Version {
		return false, nil // stale: an older version than we have
	}
	if seq > c.Version+1 {
		c.Gaps++
	}
	var d eventData
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		return false, fmt.Errorf("event %s data: %w", ev.ID, err)
	}
	r.seen[ev.Source+"/"+ev.ID] = true
	c.Version = seq
	switch strings.TrimPrefix(ev.Type, "cyclehub.customer.") {
	case "created.v1", "updated.v1":
		c.Traits = d.Traits
	case "stage_changed.v1":
		c.Stage = d.ToStage
		c.History = append(c.History, Stint{Stage: d.ToStage, EnteredAt: ev.Time, Rule: d.RuleID, Trigger: d.Trigger.EventType})
		c.Status = deref(d.Status)
		c.scores(d)
	case "score_changed.v1":
		c.Status = deref(d.StatusTo)
		c.scores(d)
	case "merged.v1":
		if d.MergedID == c.ID {
			// The record ends: its person is the survivor's from now on
			// (the survivor's own events say where they stand).
			c.MergedInto = d.SurvivorID
			c.Stage, c.Status, c.Band, c.Model = "", "", "", ""
		}
	case "erased.v1":
		*c = Customer{ID: c.ID, Version: seq, Erased: true, Gaps: c.Gaps}
	default:
		// A type this consumer does not know (a newer minor addition):
		// the version still counts.
	}
	return true, nil
}

func (c *Customer) scores(d eventData) {
	if d.Scores != nil {
		c.Band, c.Model = d.Scores.Band, d.Scores.Model
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Customers returns the rebuilt customers by id.
func (r *Rebuilder) Customers() map[string]*Customer {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]*Customer, len(r.customers))
	for k, v := range r.customers {
		cp := *v
		out[k] = &cp
	}
	return out
}

func main() {
	brokers := flag.String("brokers", "127.0.0.1:19092", "comma-separated broker addresses")
	topic := flag.String("topic", "cyclehub.lifecycle.v1", "the lifecycle topic")
	once := flag.Bool("once", false, "stop at the end of the topic and print every customer as JSON")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, strings.Split(*brokers, ","), *topic, *once, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "lifecycle-consumer:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, brokers []string, topic string, once bool, out io.Writer) error {
	conn, err := kafka.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		return err
	}
	parts, err := conn.ReadPartitions(topic)
	_ = conn.Close() // read-only: nothing was written that a close could lose
	if err != nil {
		return fmt.Errorf("partitions of %s: %w", topic, err)
	}
	rb := NewRebuilder()
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
		outMu sync.Mutex
	)
	for _, p := range parts {
		end := int64(-1)
		if once {
			lc, err := kafka.DialLeader(ctx, "tcp", brokers[0], topic, p.ID)
			if err != nil {
				return err
			}
			end, err = lc.ReadLastOffset()
			_ = lc.Close()
			if err != nil {
				return err
			}
			if end == 0 {
				continue
			}
		}
		wg.Go(func() {
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p.ID,
				MaxWait: 50 * time.Millisecond, ReadBackoffMin: 10 * time.Millisecond, ReadBackoffMax: 100 * time.Millisecond})
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					if ctx.Err() == nil {
						errMu.Lock()
						first = err
						errMu.Unlock()
					}
					return
				}
				changed, err := rb.Apply(m.Key, m.Value)
				if err != nil {
					fmt.Fprintf(os.Stderr, "partition %d offset %d: %v\n", p.ID, m.Offset, err)
				}
				if changed && !once {
					c := rb.Customers()[string(m.Key)]
					outMu.Lock()
					_ = json.NewEncoder(out).Encode(c)
					outMu.Unlock()
				}
				if once && m.Offset >= end-1 {
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	if once {
		cs := rb.Customers()
		ids := make([]string, 0, len(cs))
		for id := range cs {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		list := make([]*Customer, 0, len(ids))
		for _, id := range ids {
			list = append(list, cs[id])
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	return nil
}
