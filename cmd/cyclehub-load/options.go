package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cyclehub/cyclehub/webhooks"
)

// options are the command line.
type options struct {
	config   string
	url      string
	fixtures string
	load     load
	mix      string
	repeat   float64
	stream   bool
	kafka    string
	topic    string
	verify   bool
	postgres string
	drain    time.Duration
	json     bool
}

// Defaults that depend on the mode.
const (
	defaultDuration     = 10 * time.Second
	defaultConcurrency  = 8
	defaultMaxInflight  = 1024
	requestsOnlyTimeCap = 10 * time.Minute
)

// rateFlag reads "1000" or "1000/s".
type rateFlag float64

func (r *rateFlag) String() string { return strconv.FormatFloat(float64(*r), 'g', -1, 64) }

func (r *rateFlag) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "/s"), 64)
	if err != nil || v <= 0 {
		return errors.New("want requests per second, like 1000 or 1000/s")
	}
	*r = rateFlag(v)
	return nil
}

// parseOptions reads args (without the program name).
func parseOptions(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("cyclehub-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: cyclehub-load [--rate N/s | --concurrency N] [--duration D | --requests N] [flags]")
		fs.PrintDefaults()
	}
	var rate rateFlag
	fs.StringVar(&o.config, "config", "configs/cyclehub.yaml", "the daemon's config `file`: its sources, providers and secrets (${ENV} expanded as the daemon does)")
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "the daemon's ingest `URL`")
	fs.StringVar(&o.fixtures, "fixtures", "../shared/fixtures", "`directory` of the shared provider samples")
	fs.Var(&rate, "rate", "open loop: requests due per second (`N` or N/s); latency counts from when each was due")
	fs.IntVar(&o.load.maxInflight, "max-inflight", defaultMaxInflight, "rate mode: requests in flight at most")
	fs.IntVar(&o.load.concurrency, "concurrency", 0, fmt.Sprintf("closed loop: `N` senders, each waiting for its answer (default %d without --rate)", defaultConcurrency))
	fs.DurationVar(&o.load.duration, "duration", defaultDuration, fmt.Sprintf("how long to send (with only --requests: at most %s)", requestsOnlyTimeCap))
	fs.Int64Var(&o.load.requests, "requests", 0, "how many requests to send at most (0: no count)")
	fs.DurationVar(&o.load.timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.StringVar(&o.mix, "mix", "", "sources and weights: `name[=weight],…`; a name is a source or a family (forms, ads, support, surveys); default: every source of a supported provider, weighted forms 35, ads 15, support 27, surveys 23")
	fs.Float64Var(&o.repeat, "repeat-share", 0.2, "share of requests about a person already sent (0 ≤ share < 1)")
	fs.BoolVar(&o.stream, "stream", true, "read the lifecycle topic: webhook→Kafka latency and the stream half of the loss check")
	fs.StringVar(&o.kafka, "kafka", "", "Kafka `brokers`, comma-separated (default: the config's, CYCLEHUB_KAFKA_BROKERS first)")
	fs.StringVar(&o.topic, "topic", "", "lifecycle `topic` (default: the config's kafka.topic, cyclehub.lifecycle.v1)")
	fs.BoolVar(&o.verify, "verify", true, "run the loss check in PostgreSQL after sending")
	fs.StringVar(&o.postgres, "postgres", "", "PostgreSQL `URL` of the daemon's database (default: CYCLEHUB_POSTGRES_URL, else the config's)")
	fs.DurationVar(&o.drain, "drain", 60*time.Second, "how long the loss check waits for processing and events")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o.load.rate = float64(rate)
	switch {
	case set["rate"] && set["concurrency"]:
		return nil, errors.New("choose --rate or --concurrency, not both (--max-inflight caps rate mode)")
	case !set["rate"] && o.load.concurrency == 0:
		o.load.concurrency = defaultConcurrency
	}
	if set["requests"] && !set["duration"] {
		o.load.duration = requestsOnlyTimeCap
	}
	var errs []error
	if o.load.concurrency < 0 || o.load.concurrency > 10000 {
		errs = append(errs, errors.New("--concurrency: between 1 and 10000"))
	}
	if o.load.maxInflight < 1 || o.load.maxInflight > 10000 {
		errs = append(errs, errors.New("--max-inflight: between 1 and 10000"))
	}
	if o.load.duration <= 0 || o.load.requests < 0 || o.load.timeout <= 0 || o.drain <= 0 {
		errs = append(errs, errors.New("--duration, --timeout and --drain must be positive, --requests not negative"))
	}
	if o.repeat < 0 || o.repeat >= 1 {
		errs = append(errs, errors.New("--repeat-share: 0 ≤ share < 1"))
	}
	o.url = strings.TrimSuffix(o.url, "/")
	return o, errors.Join(errs...)
}

// parseMix turns --mix into weights by source name. An empty spec takes
// every source of a supported provider at its provider's weight.
func parseMix(spec string, sources map[string]webhooks.SourceConfig) (map[string]int, error) {
	mix := map[string]int{}
	if strings.TrimSpace(spec) == "" {
		for name, sc := range sources {
			if p, ok := supported[sc.Provider]; ok {
				mix[name] = p.weight
			}
		}
		if len(mix) == 0 {
			return nil, fmt.Errorf("the config has no source of a supported provider (%s)", supportedNames())
		}
		return mix, nil
	}
	for entry := range strings.SplitSeq(spec, ",") {
		name, w, hasWeight := strings.Cut(strings.TrimSpace(entry), "=")
		weight := 0
		if hasWeight {
			n, err := strconv.Atoi(w)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("--mix %s: the weight must be a positive integer", entry)
			}
			weight = n
		}
		switch {
		case slices.Contains(families, name):
			found := false
			for src, sc := range sources {
				if p, ok := supported[sc.Provider]; ok && p.family == name {
					mix[src] = cmp.Or(weight, p.weight)
					found = true
				}
			}
			if !found {
				return nil, fmt.Errorf("--mix %s: the config has no source of that family", name)
			}
		case sources[name].Provider != "":
			mix[name] = cmp.Or(weight, 1)
		default:
			names := make([]string, 0, len(sources))
			for n := range sources {
				names = append(names, n)
			}
			slices.Sort(names)
			return nil, fmt.Errorf("--mix %s: no such source or family (sources: %s; families: %s)",
				name, strings.Join(names, ", "), strings.Join(families, ", "))
		}
	}
	return mix, nil
}
