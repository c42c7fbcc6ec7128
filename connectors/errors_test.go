package connectors_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/connectors"
)

// onlyTemporary is a foreign error that says it is temporary and nothing
// else (as kafka-go's errors do).
type onlyTemporary struct{}

func (onlyTemporary) Error() string   { return "try again" }
func (onlyTemporary) Temporary() bool { return true }

// notPermanent says it is not permanent: the answer, not the method, counts.
type notPermanent struct{}

func (notPermanent) Error() string   { return "not permanent" }
func (notPermanent) Permanent() bool { return false }

func TestClassifyReadsAnErrorByItsBehaviour(t *testing.T) {
	boom := errors.New("boom")
	dialRefused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	ctxTimeout, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctxTimeout.Done()

	for _, tc := range []struct {
		name    string
		err     error
		outcome connectors.Outcome
		after   time.Duration
	}{
		{name: "no error is delivered", err: nil, outcome: connectors.Delivered},
		{name: "a retryable error is retried without a hint", err: connectors.Retryable(boom, 0), outcome: connectors.Retry},
		{name: "a retryable error carries the destination's Retry-After", err: connectors.Retryable(boom, 30*time.Second), outcome: connectors.Retry, after: 30 * time.Second},
		{name: "a retryable HTTP answer carries its hint", err: &connectors.RetryableError{Err: boom, Status: 429, After: time.Minute}, outcome: connectors.Retry, after: time.Minute},
		{name: "a permanent error is dead", err: connectors.Permanent(boom), outcome: connectors.Dead},
		{name: "a permanent HTTP answer is dead", err: &connectors.PermanentError{Err: boom, Status: 422}, outcome: connectors.Dead},
		{name: "a gone destination is disabled", err: connectors.Gone(boom), outcome: connectors.Disable},
		{name: "a wrapped gone error is still a disable", err: fmt.Errorf("write batch: %w", connectors.Gone(boom)), outcome: connectors.Disable},
		{name: "a wrapped permanent error is still dead", err: fmt.Errorf("write batch: %w", connectors.Permanent(boom)), outcome: connectors.Dead},
		{name: "a wrapped retryable error keeps its hint", err: fmt.Errorf("write batch: %w", connectors.Retryable(boom, 5*time.Second)), outcome: connectors.Retry, after: 5 * time.Second},
		{name: "permanent wins over retryable when both are joined (retryable first)", err: errors.Join(connectors.Retryable(boom, time.Second), connectors.Permanent(boom)), outcome: connectors.Dead},
		{name: "permanent wins over retryable when both are joined (permanent first)", err: errors.Join(connectors.Permanent(boom), connectors.Retryable(boom, time.Second)), outcome: connectors.Dead},
		{name: "an unclassified error is retried (the schedule bounds it)", err: boom, outcome: connectors.Retry},
		{name: "a canceled context is retried, not dead-lettered", err: context.Canceled, outcome: connectors.Retry},
		{name: "a deadline is retried", err: ctxTimeout.Err(), outcome: connectors.Retry},
		{name: "a wrapped deadline is retried", err: fmt.Errorf("post: %w", context.DeadlineExceeded), outcome: connectors.Retry},
		{name: "a refused connection is retried", err: dialRefused, outcome: connectors.Retry},
		{name: "a DNS failure is retried", err: &net.DNSError{Err: "no such host", Name: "hooks.example", IsNotFound: true}, outcome: connectors.Retry},
		{name: "a foreign temporary error is retried", err: onlyTemporary{}, outcome: connectors.Retry},
		{name: "an error saying it is not permanent is retried", err: notPermanent{}, outcome: connectors.Retry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outcome, after := connectors.Classify(tc.err)
			if outcome != tc.outcome || after != tc.after {
				t.Fatalf("Classify(%v) = %v, %v; want %v, %v", tc.err, outcome, after, tc.outcome, tc.after)
			}
		})
	}
}

func TestTheErrorTypesSayWhatTheyAre(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name                       string
		err                        error
		temporary, permanent, gone bool
		status                     int
	}{
		{name: "Retryable is temporary only", err: connectors.Retryable(boom, time.Second), temporary: true},
		{name: "Permanent is permanent and not gone", err: connectors.Permanent(boom), permanent: true},
		{name: "Gone is permanent and gone", err: connectors.Gone(boom), permanent: true, gone: true},
		{name: "a RetryableError reports its HTTP status", err: &connectors.RetryableError{Err: boom, Status: 503}, temporary: true, status: 503},
		{name: "a PermanentError reports its HTTP status", err: &connectors.PermanentError{Err: boom, Status: 400}, permanent: true, status: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err.Error() != "boom" || !errors.Is(tc.err, boom) {
				t.Fatalf("%T: message %q, unwraps to boom: %v; want the wrapped error's", tc.err, tc.err, errors.Is(tc.err, boom))
			}
			var tmp interface{ Temporary() bool }
			var perm interface{ Permanent() bool }
			var gone interface{ Gone() bool }
			var st interface{ HTTPStatus() int }
			gotTmp := errors.As(tc.err, &tmp) && tmp.Temporary()
			gotPerm := errors.As(tc.err, &perm) && perm.Permanent()
			gotGone := errors.As(tc.err, &gone) && gone.Gone()
			gotStatus := 0
			if errors.As(tc.err, &st) {
				gotStatus = st.HTTPStatus()
			}
			if gotTmp != tc.temporary || gotPerm != tc.permanent || gotGone != tc.gone || gotStatus != tc.status {
				t.Fatalf("%T: temporary %v permanent %v gone %v status %d; want %v %v %v %d",
					tc.err, gotTmp, gotPerm, gotGone, gotStatus, tc.temporary, tc.permanent, tc.gone, tc.status)
			}
		})
	}
}

func TestReclassifyingAnHTTPAnswerKeepsItsStatus(t *testing.T) {
	// A connector that reads more into an answer than ClassifyHTTP does
	// (Slack's 404 no_service is gone) wraps it: the delivery's recorded
	// status must stay the destination's answer, not 0.
	answer404 := &connectors.PermanentError{Err: errors.New("deliver: HTTP 404: no_service"), Status: 404}
	answer503 := &connectors.RetryableError{Err: errors.New("deliver: HTTP 503"), Status: 503}
	for _, tc := range []struct {
		name    string
		err     error
		outcome connectors.Outcome
		status  int
	}{
		{name: "a 404 reclassified as gone is a disable with status 404", err: connectors.Gone(answer404), outcome: connectors.Disable, status: 404},
		{name: "a 503 reclassified as permanent is dead with status 503", err: connectors.Permanent(answer503), outcome: connectors.Dead, status: 503},
		{name: "a permanent 404 wrapped as retryable stays dead (permanent wins) with status 404", err: connectors.Retryable(answer404, time.Minute), outcome: connectors.Dead, status: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, _ := connectors.Classify(tc.err)
			var s interface{ HTTPStatus() int }
			if !errors.As(tc.err, &s) || o != tc.outcome || s.HTTPStatus() != tc.status {
				t.Fatalf("%v: outcome %v, first HTTPStatus() %d; want %v, %d", tc.err, o, s.HTTPStatus(), tc.outcome, tc.status)
			}
		})
	}
}

func TestOutcomesHaveReadableNames(t *testing.T) {
	for o, want := range map[connectors.Outcome]string{
		connectors.Delivered: "delivered", connectors.Retry: "retry", connectors.Dead: "dead",
		connectors.Disable: "disable", connectors.Outcome(42): "outcome(42)",
	} {
		if got := o.String(); got != want {
			t.Errorf("Outcome(%d).String() = %q, want %q", int(o), got, want)
		}
	}
}
