package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/internal/providerapi"
	"github.com/cyclehub/cyclehub/internal/samples"
	"github.com/cyclehub/cyclehub/mapping"
)

// mappingTest are the flags of `cyclehub mapping test`.
type mappingTest struct {
	source      string
	contentType string
	live        bool
}

func newMappingCmd() *cobra.Command {
	var o mappingTest
	test := &cobra.Command{
		Use:   "test --source NAME [--config FILE] [--content-type TYPE] [--fetch] request.json",
		Short: "map a sample request offline; print the canonical events",
		Long: `Map a sample request offline and print the canonical events as JSON, or
every error. The file is a fixture ({"headers", "body", "query", and for
id-only providers "api_fetch" or "api_responses"}) or a raw body.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, a []string) error {
			if o.source == "" || len(a) != 1 {
				return usagef("give --source NAME and one request file")
			}
			return codeErr(runMappingTest(cli(cmd).config, a[0], o, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	f := test.Flags()
	f.StringVar(&o.source, "source", "", "configured source `name`")
	f.StringVar(&o.contentType, "content-type", "application/json", "Content-Type of a raw body file")
	f.BoolVar(&o.live, "fetch", false, "id-only providers: call the source's API (api_base, api_token) instead of the sample's api_responses")
	return group("mapping", "test mappings offline", test)
}

// runMappingTest maps a sample request offline and prints the canonical
// events, or every error.
func runMappingTest(cfgPath, file string, o mappingTest, stdout, stderr io.Writer) int {
	cfg, err := configs.Load(cfgPath, os.LookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "%s:\n%v\n", cfgPath, err)
		return 1
	}
	src, ok := cfg.Sources[o.source]
	if !ok {
		fmt.Fprintf(stderr, "mapping test: no source %q in %s\n", o.source, cfgPath)
		return 1
	}
	data, err := os.ReadFile(file) // #nosec G304 -- the sample the operator names on the command line
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	req, responses := sampleRequest(data, o.contentType)
	req.Source, req.Provider, req.RequestID = o.source, src.Provider, "00000000-0000-0000-0000-000000000000"
	mapper := mapping.NewMapper(map[string]mapping.SourceSpec{o.source: {Provider: src.Provider, DefaultRegion: src.DefaultRegion, Mapping: src.Mapping}}, cfg.Mappings)

	out := map[string]any{"source": o.source, "provider": src.Provider, "mapping": src.MappingName()}
	if c := cfg.Mappings[src.MappingName()]; c != nil {
		doc, err := c.Decode(req)
		if err != nil {
			fmt.Fprintf(stderr, "mapping test: %v\n", err)
			return 1
		}
		out["dedup_key"] = c.DedupKey(doc)
		if c.Ignored(doc) {
			out["ignored"] = true
			return printJSON(stdout, out)
		}
	}
	fetch := func(f *mapping.FetchRequest) (json.RawMessage, error) {
		if o.live {
			base := src.APIBase
			if base == "" {
				base = mapper.APIBase(src.MappingName())
			}
			return providerapi.New(cfg.Fetch.HTTP).Get(context.Background(), providerapi.Credentials{Base: base, Token: src.APIToken}, f)
		}
		if doc, ok := samples.Lookup(responses, f.Path); ok {
			return doc, nil
		}
		return nil, fmt.Errorf("the mapping needs GET %s (%s): add it to the sample's api_responses, or run with --fetch", f.Path, f.Name)
	}
	fetched := mapping.Fetched{}
	for {
		f, err := mapper.NextFetch(req, fetched)
		if err != nil {
			fmt.Fprintf(stderr, "mapping test: %v\n", err)
			return 1
		}
		if f == nil {
			break
		}
		doc, err := fetch(f)
		if err != nil {
			fmt.Fprintf(stderr, "mapping test: %v\n", err)
			return 1
		}
		if fetched[f.Record] == nil {
			fetched[f.Record] = map[string]json.RawMessage{}
		}
		fetched[f.Record][f.Name] = doc
		out["fetched"] = append(asList(out["fetched"]), "GET "+f.Path)
	}
	req.Fetched = fetched
	evs, err := mapper.Map(req)
	if err != nil {
		fmt.Fprintf(stderr, "mapping test: %v\n", err)
		return 1
	}
	out["events"] = evs
	return printJSON(stdout, out)
}

func asList(v any) []string {
	l, _ := v.([]string)
	return l
}

// sampleRequest reads a request in the fixtures' format ({"headers", "body",
// "query", and for id-only providers "api_fetch" or "api_responses"}) or,
// failing that, takes the file as the raw body.
func sampleRequest(data []byte, contentType string) (*mapping.RawRequest, map[string]json.RawMessage) {
	req := &mapping.RawRequest{Method: "POST", ReceivedAt: time.Now().UTC(), Headers: map[string]string{"Content-Type": contentType}, Body: data}
	var sample struct {
		Headers      map[string]string          `json:"headers"`
		Query        string                     `json:"query"`
		Body         json.RawMessage            `json:"body"`
		APIFetch     json.RawMessage            `json:"api_fetch"`
		APIResponses map[string]json.RawMessage `json:"api_responses"`
	}
	if err := json.Unmarshal(data, &sample); err != nil || len(sample.Body) == 0 {
		return req, nil
	}
	responses, _ := samples.Responses(sample.APIFetch, sample.APIResponses)
	if sample.Headers != nil {
		req.Headers = sample.Headers
	}
	req.Query = sample.Query
	var s string
	if json.Unmarshal(sample.Body, &s) == nil {
		req.Body = []byte(s)
	} else {
		var buf bytes.Buffer
		_ = json.Compact(&buf, sample.Body)
		req.Body = buf.Bytes()
	}
	return req, responses
}
