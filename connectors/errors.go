package connectors

import (
	"errors"
	"fmt"
	"time"
)

// Connectors classify every failure where they know what it means; the
// delivery engine decides by behaviour (errors.As on these small
// interfaces), never by message:
//
//	interface{ Temporary() bool }              retry later
//	interface{ RetryAfter() time.Duration }    the destination's own hint (0: none)
//	interface{ Permanent() bool }              retrying cannot help: dead-letter
//	interface{ Gone() bool }                   the destination is gone (HTTP 410): disable it
//
// An error with none of them is treated as temporary.

// RetryableError is a failure worth retrying later.
type RetryableError struct {
	Err error
	// After is the destination's Retry-After hint (0: none).
	After time.Duration
	// Status is the HTTP status, when there was one.
	Status int
}

func (e *RetryableError) Error() string             { return e.Err.Error() }
func (e *RetryableError) Unwrap() error             { return e.Err }
func (e *RetryableError) Temporary() bool           { return true }
func (e *RetryableError) RetryAfter() time.Duration { return e.After }

// HTTPStatus is the destination's answer (0: none).
func (e *RetryableError) HTTPStatus() int { return e.Status }

// PermanentError is a failure that will recur whatever is retried.
type PermanentError struct {
	Err    error
	Status int
	// gone marks a destination that no longer exists.
	gone bool
}

func (e *PermanentError) Error() string   { return e.Err.Error() }
func (e *PermanentError) Unwrap() error   { return e.Err }
func (e *PermanentError) Permanent() bool { return true }
func (e *PermanentError) Gone() bool      { return e.gone }

// HTTPStatus is the destination's answer (0: none).
func (e *PermanentError) HTTPStatus() int { return e.Status }

// Retryable classifies err as worth retrying, after the hint (0: none).
func Retryable(err error, after time.Duration) error {
	return &RetryableError{Err: err, After: after, Status: statusOf(err)}
}

// Permanent classifies err as final.
func Permanent(err error) error { return &PermanentError{Err: err, Status: statusOf(err)} }

// Gone classifies err as the destination being gone for good.
func Gone(err error) error { return &PermanentError{Err: err, Status: statusOf(err), gone: true} }

// statusOf is the HTTP status err already carries (0: none), kept when a
// connector reclassifies an answer.
func statusOf(err error) int {
	var s interface{ HTTPStatus() int }
	if errors.As(err, &s) {
		return s.HTTPStatus()
	}
	return 0
}

// Outcome is how the delivery engine reads an error.
type Outcome int

const (
	// Delivered: no error.
	Delivered Outcome = iota
	// Retry later (at RetryAfter if the destination said).
	Retry
	// Dead: retrying cannot help.
	Dead
	// Disable: the destination is gone.
	Disable
)

// Classify reads err as an outcome and the destination's retry hint.
func Classify(err error) (Outcome, time.Duration) {
	if err == nil {
		return Delivered, 0
	}
	var g interface{ Gone() bool }
	if errors.As(err, &g) && g.Gone() {
		return Disable, 0
	}
	var p interface{ Permanent() bool }
	if errors.As(err, &p) && p.Permanent() {
		return Dead, 0
	}
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		return Retry, ra.RetryAfter()
	}
	return Retry, 0
}

func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case Retry:
		return "retry"
	case Dead:
		return "dead"
	case Disable:
		return "disable"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}
