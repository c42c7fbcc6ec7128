package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

// BenchmarkWebhookToKafkaLatency measures end-to-end latency on the local
// services: from sending a form webhook to its created.v1 event being
// read from Kafka (ack, group commit, pipeline batch with the lifecycle
// rules, outbox, relay, broker), with 1 and 8 senders. It reports the p50
// and p99 in milliseconds; ns/op is the time per webhook at that
// concurrency.
func BenchmarkWebhookToKafkaLatency(b *testing.B) {
	for _, senders := range []int{1, 8} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) { webhookToKafka(b, senders) })
	}
}

func webhookToKafka(b *testing.B, senders int) {
	_, brokers := testsvc.Kafka(b)
	d := startDaemon(b, testConfig(b, pgtest.URL(b), brokers))
	var (
		mu      sync.Mutex
		sent    = map[string]time.Time{} // request id → sent at
		latency []time.Duration
		arrived = make(chan struct{}, b.N)
	)
	// One reader per partition, from the start (the topic is new).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for p := range d.cfg.Kafka.Partitions {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: d.cfg.Kafka.Topic, Partition: p, MaxWait: 5 * time.Millisecond,
			ReadBackoffMin: time.Millisecond, ReadBackoffMax: 5 * time.Millisecond})
		defer r.Close()
		go func() {
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return
				}
				at := time.Now()
				var ev struct {
					Type string `json:"type"`
					Data struct {
						Trigger struct {
							RequestID string `json:"request_id"`
						} `json:"trigger"`
					} `json:"data"`
				}
				if json.Unmarshal(m.Value, &ev) != nil || ev.Type != "cyclehub.customer.created.v1" {
					continue
				}
				mu.Lock()
				if t0, ok := sent[ev.Data.Trigger.RequestID]; ok {
					latency = append(latency, at.Sub(t0))
					delete(sent, ev.Data.Trigger.RequestID)
					arrived <- struct{}{}
				}
				mu.Unlock()
			}
		}()
	}
	client := &http.Client{Timeout: 10 * time.Second}
	var next sync.Mutex
	i := 0
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range senders {
		wg.Go(func() {
			for {
				next.Lock()
				if i >= b.N {
					next.Unlock()
					return
				}
				i++
				n := i
				next.Unlock()
				t0 := time.Now()
				resp, err := client.Post("http://"+d.httpAddr+"/hooks/form", "application/x-www-form-urlencoded",
					strings.NewReader(fmt.Sprintf("email=lat-%d-%d-%d%%40example.com", w, n, t0.UnixNano())))
				if err != nil {
					b.Error(err)
					return
				}
				var ack struct {
					RequestID string `json:"request_id"`
				}
				_ = json.NewDecoder(resp.Body).Decode(&ack)
				resp.Body.Close()
				mu.Lock()
				sent[ack.RequestID] = t0
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for range b.N {
		select {
		case <-arrived:
		case <-time.After(30 * time.Second):
			b.Fatal("events missing on the stream after 30s")
		}
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(latency)
	q := func(f float64) float64 {
		return float64(latency[int(f*float64(len(latency)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(0.5), "p50_ms")
	b.ReportMetric(q(0.99), "p99_ms")
}
