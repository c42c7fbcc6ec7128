package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// writeError classifies a failed batch write for the pipeline, which decides
// by behaviour (Permanent) and never by message.
type writeError struct {
	err       error
	permanent bool
}

func (e *writeError) Error() string   { return e.err.Error() }
func (e *writeError) Unwrap() error   { return e.err }
func (e *writeError) Permanent() bool { return e.permanent }

func classify(err error) error {
	if err == nil {
		return nil
	}
	return &writeError{err: err, permanent: isPermanent(err)}
}

// isPermanent reports whether err is a PostgreSQL error that will recur on
// retry with the same data (integrity or data exceptions): the request
// should be quarantined. Connection loss, timeouts, serialization failures
// and deadlocks are transient: retry.
func isPermanent(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code[:2] {
	case "22", // data exception (bad value, too long, invalid text)
		"23": // integrity constraint violation
		return true
	}
	return false
}
