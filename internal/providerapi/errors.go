package providerapi

import "time"

// Error is a failed fetch, classified by what the caller should do.
type Error struct {
	// Status is the HTTP status (0 before any response).
	Status int
	// Reason says what failed, without secrets.
	Reason     string
	permanent  bool
	notFound   bool
	canceled   bool
	retryAfter time.Duration
}

func (e *Error) Error() string { return e.Reason }

// Temporary reports a failure worth retrying later.
func (e *Error) Temporary() bool { return !e.permanent && !e.canceled }

// Permanent reports a failure that retrying will not fix.
func (e *Error) Permanent() bool { return e.permanent }

// NotFound reports that the document does not exist (404, 410).
func (e *Error) NotFound() bool { return e.notFound }

// Canceled reports a call abandoned because its context ended.
func (e *Error) Canceled() bool { return e.canceled }

// RetryAfter is how long the provider asked to wait (0: not said).
func (e *Error) RetryAfter() time.Duration { return e.retryAfter }
