package main

import (
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress reports long work on stderr. It is a no-op unless stderr is a
// terminal and --quiet is off, so scripts and tests see clean output.
type progress struct{ bar *progressbar.ProgressBar }

// progress starts a bar of total units (-1: unknown, a spinner with a
// count and a rate).
func (g *globals) progress(total int64, what, unit string) *progress {
	if !g.env.stderrTTY || g.quiet {
		return &progress{}
	}
	return &progress{bar: progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(g.env.stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)}
}

func (p *progress) add(n int) {
	if p.bar != nil {
		_ = p.bar.Add(n)
	}
}

// clear takes the bar off the line, so a line can be printed; the next
// add draws it again.
func (p *progress) clear() {
	if p.bar != nil {
		_ = p.bar.Clear()
	}
}

// done clears the bar.
func (p *progress) done() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// spinner shows that one long call is under way, with the time elapsed
// (a no-op where progress is).
func (g *globals) spinner(what string) *progress {
	if !g.env.stderrTTY || g.quiet {
		return &progress{}
	}
	return &progress{bar: progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(g.env.stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionClearOnFinish(),
	)}
}
