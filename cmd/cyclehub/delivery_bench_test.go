package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/pipeline"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

// BenchmarkHealthyDestinationLatency measures the latency of a healthy
// webhook destination (a form webhook sent until its created.v1 arrives
// there) alone, and beside three failing destinations subscribed to the
// same events: one answering 503, one hanging until its timeout, one
// gone (410). Isolation means the two figures match. It reports p50 and
// p99 in milliseconds.
func BenchmarkHealthyDestinationLatency(b *testing.B) {
	for _, neighbours := range []bool{false, true} {
		b.Run(fmt.Sprintf("failing_neighbours=%v", neighbours), func(b *testing.B) { healthyLatency(b, neighbours) })
	}
}

func healthyLatency(b *testing.B, neighbours bool) {
	_, brokers := testsvc.Kafka(b)
	cfg := testConfig(b, pgtest.URL(b), brokers)
	var (
		mu      sync.Mutex
		sent    = map[string]time.Time{} // request id → sent at
		got     = map[string]time.Time{} // request id → arrived at (before its ack was read)
		latency []time.Duration
		arrived = make(chan struct{}, b.N)
	)
	match := func(t0, at time.Time) {
		latency = append(latency, at.Sub(t0))
		arrived <- struct{}{}
	}
	healthy := server(b, func(_ http.ResponseWriter, r *http.Request) {
		at := time.Now()
		var ev struct {
			Data struct {
				Trigger struct {
					RequestID string `json:"request_id"`
				} `json:"trigger"`
			} `json:"data"`
		}
		_ = json.NewDecoder(r.Body).Decode(&ev)
		id := ev.Data.Trigger.RequestID
		mu.Lock()
		defer mu.Unlock()
		if t0, ok := sent[id]; ok {
			delete(sent, id)
			match(t0, at)
		} else {
			got[id] = at
		}
	})
	cfg.Destinations = map[string]configs.DestinationConfig{"healthy": webhookDestination(healthy, 2*time.Second)}
	if neighbours {
		release := make(chan struct{})
		failing := server(b, func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "busy", http.StatusServiceUnavailable) })
		hung := server(b, func(_ http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		b.Cleanup(func() { close(release) }) // before the servers close: they wait for their handlers
		gone := server(b, func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "gone", http.StatusGone) })
		// The neighbours retry on the production schedule (breaker on).
		for name, url := range map[string]string{"failing": failing, "hung": hung, "gone": gone} {
			dc := webhookDestination(url, 2*time.Second)
			dc.Delivery = pipeline.DefaultDeliveryConfig()
			cfg.Destinations[name] = dc
		}
	}
	d := startDaemon(b, cfg)
	client := &http.Client{Timeout: 10 * time.Second}
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		resp, err := client.Post("http://"+d.httpAddr+"/hooks/form", "application/json",
			strings.NewReader(fmt.Sprintf(`{"email":"dl-%d-%d@example.com"}`, i, t0.UnixNano())))
		if err != nil {
			b.Fatal(err)
		}
		var ack struct {
			RequestID string `json:"request_id"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&ack)
		resp.Body.Close()
		mu.Lock()
		if at, ok := got[ack.RequestID]; ok {
			delete(got, ack.RequestID)
			match(t0, at)
		} else {
			sent[ack.RequestID] = t0
		}
		mu.Unlock()
		time.Sleep(5 * time.Millisecond) // a steady stream, not a burst
	}
	for range b.N {
		select {
		case <-arrived:
		case <-time.After(30 * time.Second):
			b.Fatal("deliveries missing at the healthy destination after 30s")
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

func server(b *testing.B, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	return srv.URL
}

// BenchmarkOneCustomersBurst measures how long a burst of five form
// submissions about one person takes to reach a healthy webhook
// destination in full. A customer's deliveries go in order, one at a
// time: each waits for the one before it, and the figure shows whether it
// follows at once or after a pause (it was a second per event before the
// waiting ones were released when an attempt ends).
func BenchmarkOneCustomersBurst(b *testing.B) {
	_, brokers := testsvc.Kafka(b)
	url := pgtest.URL(b)
	cfg := testConfig(b, url, brokers)
	healthy := server(b, func(http.ResponseWriter, *http.Request) {})
	dc := webhookDestination(healthy, 2*time.Second)
	dc.Subscribe = mapping.Subscription{} // every type: created, then updated and score changes
	cfg.Destinations = map[string]configs.DestinationConfig{"healthy": dc}
	d := startDaemon(b, cfg)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	const burst = 5
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		var wg sync.WaitGroup
		for j := range burst {
			wg.Go(func() {
				if code, out := d.post("/hooks/form", "application/json",
					fmt.Sprintf(`{"email":"burst-%d@example.com","first_name":"N%d","company":"C%d"}`, i, j, j)); code != http.StatusAccepted {
					b.Errorf("post: %d %v", code, out)
				}
			})
		}
		wg.Wait()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var left int
			if err := pool.QueryRow(context.Background(),
				`SELECT count(*) FROM deliveries WHERE status <> 'delivered'`).Scan(&left); err != nil {
				b.Fatal(err)
			}
			if left == 0 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d deliveries still not delivered after 30s", left)
			}
			time.Sleep(2 * time.Millisecond)
		}
		total += time.Since(t0)
	}
	b.StopTimer()
	var deliveries int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM deliveries`).Scan(&deliveries); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(total)/float64(b.N)/float64(time.Millisecond), "ms/burst")
	b.ReportMetric(float64(deliveries)/float64(b.N), "deliveries/burst")
}
