package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type config struct {
	host       string
	port       int
	partitions int32
	seedTopics []string
	dataDir    string
	syncWrites bool
	logLevel   kfake.LogLevel
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("devkafka: ")
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		log.Print(err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("devkafka", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:19092", "loopback `host:port` to listen on")
	partitions := fs.Int("partitions", 3, "partitions for seeded topics and CreateTopics with -1 partitions")
	seed := fs.String("seed-topics", "", "comma-separated `topics` to create at start-up")
	dataDir := fs.String("data-dir", "", "optional `directory` for on-disk persistence across restarts")
	syncWrites := fs.Bool("sync-writes", false, "fsync every produced batch (needs -data-dir)")
	level := fs.String("log-level", "error", "kfake log `level`: none, error, warn, info, debug")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}

	var cfg config
	host, portStr, err := net.SplitHostPort(*addr)
	if err != nil {
		return config{}, fmt.Errorf("-addr %q: %w", *addr, err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return config{}, fmt.Errorf("-addr %q: host must be a loopback IP address (e.g. 127.0.0.1)", *addr)
	}
	cfg.host = ip.String()
	cfg.port, err = strconv.Atoi(portStr)
	if err != nil || cfg.port < 0 || cfg.port > 65535 {
		return config{}, fmt.Errorf("-addr %q: invalid port", *addr)
	}

	if *partitions < 1 || *partitions > math.MaxInt32 {
		return config{}, fmt.Errorf("-partitions must be between 1 and %d (Kafka's int32), got %d", math.MaxInt32, *partitions)
	}
	cfg.partitions = int32(*partitions)
	for _, t := range strings.Split(*seed, ",") {
		if t = strings.TrimSpace(t); t != "" {
			cfg.seedTopics = append(cfg.seedTopics, t)
		}
	}
	cfg.dataDir = *dataDir
	cfg.syncWrites = *syncWrites
	if cfg.syncWrites && cfg.dataDir == "" {
		return config{}, errors.New("-sync-writes needs -data-dir")
	}
	switch strings.ToLower(*level) {
	case "none":
		cfg.logLevel = kfake.LogLevelNone
	case "error":
		cfg.logLevel = kfake.LogLevelError
	case "warn":
		cfg.logLevel = kfake.LogLevelWarn
	case "info":
		cfg.logLevel = kfake.LogLevelInfo
	case "debug":
		cfg.logLevel = kfake.LogLevelDebug
	default:
		return config{}, fmt.Errorf("-log-level %q: want none, error, warn, info or debug", *level)
	}
	return cfg, nil
}

func run(cfg config) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	opts := []kfake.Opt{
		// One broker on the requested port. kfake formats the address as
		// "127.0.0.1:<port>"; the ListenFn keeps the port and binds the
		// requested loopback host.
		kfake.Ports(cfg.port),
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, port, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			return net.Listen(network, net.JoinHostPort(cfg.host, port))
		}),
		kfake.ClusterID("cyclehub-dev"),
		kfake.DefaultNumPartitions(int(cfg.partitions)),
		kfake.WithLogger(kfake.BasicLogger(os.Stderr, cfg.logLevel)),
		// Deliberately no kfake.AllowAutoTopicCreation(): a produce to a
		// topic that was not created fails, as with
		// auto.create.topics.enable=false on a real cluster.
	}
	if len(cfg.seedTopics) > 0 {
		opts = append(opts, kfake.SeedTopics(cfg.partitions, cfg.seedTopics...))
	}
	if cfg.dataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.dataDir))
		if cfg.syncWrites {
			opts = append(opts, kfake.SyncWrites())
		}
	}

	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("starting cluster: %w", err)
	}
	addrs := c.ListenAddrs()

	// kfake skips SeedTopics when it reloads persisted state; create any
	// seed topic that is missing.
	if cfg.dataDir != "" && len(cfg.seedTopics) > 0 {
		if err := ensureTopics(ctx, addrs, cfg.seedTopics, cfg.partitions); err != nil {
			c.Close()
			return err
		}
	}

	persist := "off"
	if cfg.dataDir != "" {
		persist = cfg.dataDir
	}
	log.Printf("ready: listening on %s (partitions=%d, seed-topics=%q, data-dir=%s, auto-create-topics=off, pid=%d)",
		strings.Join(addrs, ","), cfg.partitions, strings.Join(cfg.seedTopics, ","), persist, os.Getpid())

	<-ctx.Done()
	stop() // a second signal terminates immediately
	log.Print("shutting down")
	c.Close()
	log.Print("stopped")
	return nil
}

// ensureTopics creates the given topics unless they already exist.
func ensureTopics(ctx context.Context, addrs, topics []string, partitions int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		return fmt.Errorf("seed topics: %w", err)
	}
	defer cl.Close()

	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10_000
	for _, t := range topics {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic = t
		rt.NumPartitions = partitions
		rt.ReplicationFactor = -1
		req.Topics = append(req.Topics, rt)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("seed topics: %w", err)
	}
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("seed topic %q: %w", rt.Topic, err)
		}
	}
	return nil
}
