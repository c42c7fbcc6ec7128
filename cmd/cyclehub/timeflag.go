package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// timeFlag is a --from/--to/--updated-since value: an RFC 3339 time
// (2026-01-31T09:00:00Z), a UTC date (2026-01-31), "now", or a duration
// ago (90m, 36h, 7d).
type timeFlag struct {
	t   time.Time
	now func() time.Time
}

func (f *timeFlag) Set(s string) error {
	t, err := parseTime(s, f.now())
	if err != nil {
		return err
	}
	f.t = t
	return nil
}

func (f *timeFlag) String() string {
	if f == nil || f.t.IsZero() {
		return ""
	}
	return f.t.UTC().Format(time.RFC3339)
}

func (f *timeFlag) Type() string { return "time" }

func newTimeFlag() *timeFlag { return &timeFlag{now: time.Now} }

func parseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "now" {
		return now.UTC().Truncate(time.Second), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, ok := agoDuration(s); ok {
		return now.Add(-d).UTC().Truncate(time.Second), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: give RFC 3339 (2026-01-31T09:00:00Z), a date (2026-01-31), now, or a duration ago (36h, 7d)", s)
}

// agoDuration reads a Go duration or whole days (7d).
func agoDuration(s string) (time.Duration, bool) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		return time.Duration(n) * 24 * time.Hour, err == nil && n >= 0
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d >= 0
}

// timeRange adds --from and --to, bounding when the selected things were
// what (created, received).
func timeRange(cmd *cobra.Command, from, to *timeFlag, what string) {
	cmd.Flags().Var(from, "from", what+" at or after `T` (RFC 3339, a date, now, or a duration ago: 36h, 7d)")
	cmd.Flags().Var(to, "to", what+" before `T` (same forms)")
}
