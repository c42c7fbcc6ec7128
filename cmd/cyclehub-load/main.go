package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cyclehub/cyclehub/configs"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // something was lost or duplicated, or nothing was acked
	exitUsage  = 2 // bad flags or config, or a service could not be reached
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command; the report goes to stdout, progress to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "cyclehub-load: %v\n", err)
		return exitUsage
	}
	rep, err := runLoad(ctx, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "cyclehub-load: %v\n", err)
		return exitUsage
	}
	if o.json {
		err = rep.writeJSON(stdout)
	} else {
		err = rep.writeTable(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "cyclehub-load: %v\n", err)
		return exitUsage
	}
	if !rep.OK {
		return exitFailed
	}
	return exitOK
}

// runLoad prepares the sources, the stream reader and the verifier, sends,
// drains and judges.
func runLoad(ctx context.Context, o *options, stderr io.Writer) (*report, error) {
	cfg, err := configs.Load(o.config, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("%s:\n%w", o.config, err)
	}
	mix, err := parseMix(o.mix, cfg.Sources)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(mix))
	for n := range mix {
		names = append(names, n)
	}
	slices.Sort(names)
	s := &sender{load: o.load, seed: rand.Uint64()}
	total := 0
	for _, n := range names {
		src, err := newSource(n, cfg.Sources[n], o.url, o.fixtures)
		if err != nil {
			return nil, err
		}
		total += mix[n]
		s.sources = append(s.sources, src)
		s.weights = append(s.weights, total)
	}

	var v *verifier
	if o.verify {
		pgURL := o.postgres
		if pgURL == "" {
			pgURL = cfg.Postgres.URL.Reveal() // CYCLEHUB_POSTGRES_URL already applied
		}
		if v, err = openVerifier(ctx, pgURL); err != nil {
			return nil, err
		}
		defer v.close(context.WithoutCancel(ctx))
	}
	s.people = newPeople(s.seed, o.repeat)
	s.track = newTracker(time.Now())
	var st *stream
	if o.stream {
		brokers := cfg.Kafka.Brokers
		if o.kafka != "" {
			brokers = nil
			for b := range strings.SplitSeq(o.kafka, ",") {
				if b = strings.TrimSpace(b); b != "" {
					brokers = append(brokers, b)
				}
			}
		}
		topic := cmp.Or(o.topic, cfg.Kafka.Topic)
		if st, err = openStream(ctx, brokers, topic, s.track); err != nil {
			return nil, err
		}
		defer st.close()
	}

	conns := o.load.concurrency
	if o.load.rate > 0 {
		conns = o.load.maxInflight
	}
	s.client = newHTTPClient(conns, o.load.timeout)
	fmt.Fprintf(stderr, "cyclehub-load: sending to %s (%s) for %s…\n", o.url, mixString(mix), o.load.duration)
	s.track.start = time.Now() // before the readers: they read it
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	var reading sync.WaitGroup
	if st != nil {
		reading.Go(func() { st.run(readCtx) })
	}
	res := s.run(ctx)
	s.client.CloseIdleConnections()
	fmt.Fprintf(stderr, "cyclehub-load: %d sent, %d acked in %.1fs\n", res.Sent, res.Acked, res.Elapsed.Seconds())

	rep := &report{
		Run: runInfo{URL: o.url, Mode: "concurrency", Concurrency: o.load.concurrency, Duration: o.load.duration.String(),
			Requests: o.load.requests, Mix: mix, RepeatShare: o.repeat, RunTag: s.people.tag},
		Requests:   requestsOf(res, s.people.created()),
		AckLatency: latencyOf(&res.Ack),
	}
	if o.load.rate > 0 {
		rep.Run.Mode, rep.Run.Rate, rep.Run.MaxInflight, rep.Run.Concurrency = "rate", o.load.rate, o.load.maxInflight, 0
	}
	deadline := time.Now().Add(o.drain)
	switch {
	case v != nil && ctx.Err() == nil:
		fmt.Fprintf(stderr, "cyclehub-load: checking for loss (up to %s)…\n", o.drain)
		rep.Loss, err = v.check(ctx, s.track.snapshot(), s.track, st != nil, deadline)
		if err != nil {
			return nil, err
		}
	case st != nil:
		waitQuiet(ctx, st, deadline)
	}
	stopReading()
	reading.Wait()
	if st != nil {
		l := latencyOf(s.track.streamLatency())
		rep.StreamLatency = &l
	}
	rep.OK = res.Acked > 0 && (rep.Loss == nil || rep.Loss.OK())
	if ctx.Err() != nil {
		return rep, fmt.Errorf("interrupted: %w", ctx.Err())
	}
	return rep, nil
}

// waitQuiet waits, without a loss check, until the stream has been quiet
// for a second or deadline.
func waitQuiet(ctx context.Context, st *stream, deadline time.Time) {
	last, quietSince := -1, time.Now()
	for time.Now().Before(deadline) && time.Since(quietSince) < time.Second {
		if n, _ := st.counts(); n != last {
			last, quietSince = n, time.Now()
		}
		if sleep(ctx, 100*time.Millisecond) != nil {
			return
		}
	}
}
