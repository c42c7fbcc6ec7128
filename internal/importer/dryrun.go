package importer

import (
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/store/pgstore"
)

// DryRow is one row of a dry run: its key and canonical events, or why it
// cannot be read or mapped.
type DryRow struct {
	Line   int64            `json:"line"`
	Key    string           `json:"dedup_key,omitempty"`
	Events []*mapping.Event `json:"events,omitempty"`
	// Status is ok, rejected (unreadable) or quarantined (unmappable).
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// DryRun reads the first n rows of in and maps each as the import would,
// calling fn with the result. It writes nothing and needs no database.
func DryRun(in Input, cfg Config, n int, now time.Time, fn func(DryRow) error) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	rd, err := NewReader(in.Src, in.Size, cfg.Reader, Position{})
	if err != nil {
		return err
	}
	digest, err := MappingDigest(cfg.Mapping, cfg.DefaultRegion)
	if err != nil {
		return err
	}
	keys := newKeyer(digest)
	mapper := mapping.NewMapper(
		map[string]mapping.SourceSpec{cfg.Source: {Provider: cfg.Mapping.Spec().Provider, DefaultRegion: cfg.DefaultRegion, Mapping: importMapping}},
		map[string]*mapping.Compiled{importMapping: cfg.Mapping})
	for done := 0; done < n; {
		row, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if row.Blank {
			continue
		}
		done++
		out := DryRow{Line: row.Line, Status: "ok"}
		if row.Reason != "" {
			out.Status, out.Reason = "rejected", row.Reason
			if err := fn(out); err != nil {
				return err
			}
			continue
		}
		out.Key = keys.key(row.Content)
		evs, err := mapper.Map(&mapping.RawRequest{
			RequestID: "00000000-0000-0000-0000-000000000000", Source: cfg.Source, Provider: pgstore.ImportProvider,
			Method: "IMPORT", Path: "/import", Body: row.Body, ReceivedAt: now,
			Headers: map[string]string{"Content-Type": "application/json", "X-Import-Line": strconv.FormatInt(row.Line, 10)},
		})
		if err != nil {
			out.Status, out.Reason = "quarantined", err.Error()
		}
		out.Events = evs
		if err := fn(out); err != nil {
			return err
		}
	}
	return nil
}
