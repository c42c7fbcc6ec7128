package webhooks

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit caps how fast one source's requests are taken in by one
// replica: a token bucket that refills at RPS tokens per second and holds
// at most Burst. A request finding the bucket empty is answered 429 with
// Retry-After before its body is read or verified.
//
// A source has none unless its config sets one. CycleHub's promise is to
// absorb campaign bursts of thousands of webhooks per second, and not every
// sender retries a 429 (a browser posting a web form does not), so a
// default limit would drop real leads at exactly the moment they matter.
// Set one on sources whose providers retry, to bound what one source can
// take of the ingest path and of PostgreSQL.
type RateLimit struct {
	// RPS is the sustained rate, in requests per second (fractions allowed:
	// 0.5 is one request every two seconds).
	RPS float64 `yaml:"rps"`
	// Burst is how many requests may arrive at once above the rate.
	Burst int `yaml:"burst"`
}

// Validate reports every problem with the limit, each prefixed by its key
// under the source.
func (l RateLimit) Validate() []error {
	var errs []error
	if math.IsNaN(l.RPS) || math.IsInf(l.RPS, 0) || l.RPS <= 0 {
		errs = append(errs, fmt.Errorf("rate_limit.rps: must be a positive number of requests per second, got %v", l.RPS))
	}
	if l.Burst < 1 {
		errs = append(errs, fmt.Errorf("rate_limit.burst: must be at least 1 (the requests accepted at once), got %d", l.Burst))
	}
	return errs
}

// newLimiter returns the source's token bucket, or nil when it has no
// limit.
func newLimiter(l *RateLimit) *rate.Limiter {
	if l == nil {
		return nil
	}
	return rate.NewLimiter(rate.Limit(l.RPS), l.Burst)
}

// admit takes a token for one request at now. When there is none it
// reports how long until there is one, and takes nothing.
func admit(lim *rate.Limiter, now time.Time) (ok bool, wait time.Duration) {
	if lim == nil {
		return true, 0
	}
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		// Only with a burst below 1, which Validate refuses.
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// tooManyRequests answers a request over its source's limit: 429 with
// Retry-After in whole seconds, rounded up, and at least 1.
func tooManyRequests(w http.ResponseWriter, source string, wait time.Duration) int {
	secs := setRetryAfter(w, wait)
	return writeError(w, http.StatusTooManyRequests, "rate_limited",
		"source "+quote(source)+" is over its rate limit; retry after "+itoa(secs)+"s")
}

// setRetryAfter sets Retry-After to wait in whole seconds, rounded up, and
// at least 1; it returns the seconds.
func setRetryAfter(w http.ResponseWriter, wait time.Duration) int64 {
	secs := max(1, int64(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	return secs
}
