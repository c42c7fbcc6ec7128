package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/cyclehub/cyclehub/internal/adminclient"
)

// parseIDs reads positional ids (positive integers).
func parseIDs(a []string) ([]int64, error) {
	ids := make([]int64, 0, len(a))
	for _, s := range a {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id < 1 {
			return nil, usagef("%q is not an id (a positive integer)", s)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// replayEach replays ids one by one (a progress bar when there are
// several), going on past the API's refusals. It prints "queued ID" a
// line, or with --json one array of the API's answers (a refusal as
// {"id", "status": "failed", "http_status", "error", "message"}).
// Refusals are reported on stderr and end the command with exit code 1;
// a call that got no answer (unreachable, timed out) stops the rest.
func (g *globals) replayEach(ctx context.Context, w io.Writer, ids []int64, what string, replay func(context.Context, int64) (json.RawMessage, error)) error {
	var bar *progress
	if len(ids) > 1 {
		bar = g.progress(int64(len(ids)), "replaying", what)
	} else {
		bar = &progress{}
	}
	answers := make([]json.RawMessage, 0, len(ids))
	failed := 0
	var abort error
	for _, id := range ids {
		raw, err := replay(ctx, id)
		if err == nil {
			answers = append(answers, raw)
			if !g.json {
				bar.clear()
				fmt.Fprintf(w, "queued %s %d\n", what, id)
			}
			bar.add(1)
			continue
		}
		var ae *adminclient.APIError
		if !errors.As(err, &ae) {
			// No answer (unreachable, canceled, timed out): the next ids
			// would fare no better.
			abort = err
			break
		}
		failed++
		bar.clear()
		fmt.Fprintf(g.env.stderr, "%s %d: %v\n", what, id, hint(err))
		bar.add(1)
		f := map[string]any{"id": id, "status": "failed", "http_status": ae.Status, "error": ae.Code, "message": ae.Message}
		if ae.Message == "" {
			f["message"] = ae.Body
		}
		b, _ := json.Marshal(f)
		answers = append(answers, b)
	}
	bar.done()
	if g.json {
		b, _ := json.Marshal(answers)
		if err := printRaw(w, b); err != nil {
			return err
		}
	}
	queued := len(answers) - failed
	switch {
	case abort != nil && len(ids) > 1:
		fmt.Fprintf(g.env.stderr, "%d of %d queued before this failure:\n", queued, len(ids))
		return abort
	case abort != nil:
		return abort
	case failed > 0:
		fmt.Fprintf(g.env.stderr, "%d of %d queued; %d failed\n", queued, len(ids), failed)
		return exitCode(1)
	}
	return nil
}
