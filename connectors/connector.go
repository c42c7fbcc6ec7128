package connectors

import (
	"context"
	"fmt"
	"strings"

	"github.com/cyclehub/cyclehub/mapping"
)

// Connector is the sink contract.
//
// Lifecycle: Connect is called once before any Write and may be retried
// after an error; Write may be called concurrently by several goroutines
// once Connect succeeded; Close is called once, after the last Write has
// returned, and flushes anything buffered.
type Connector interface {
	// Connect prepares the connector (dials, checks or creates the
	// destination). An error is retried by the caller.
	Connect(ctx context.Context) error
	// Write delivers batch. nil means every record was accepted. A
	// *BatchError reports each record's result; any other error means no
	// record may be assumed delivered.
	Write(ctx context.Context, batch []mapping.OutboxRecord) error
	// Close flushes and releases resources.
	Close(ctx context.Context) error
}

// BatchError reports per-record results of a Write: Errs[i] is the error of
// batch[i], nil when that record was delivered.
type BatchError struct {
	Errs []error
}

// RecordErrors returns the per-record errors (nil entries succeeded).
func (e *BatchError) RecordErrors() []error { return e.Errs }

func (e *BatchError) Error() string {
	failed := 0
	var first error
	for _, err := range e.Errs {
		if err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d records failed", failed, len(e.Errs))
	if first != nil {
		fmt.Fprintf(&b, ": %v", first)
	}
	return b.String()
}
