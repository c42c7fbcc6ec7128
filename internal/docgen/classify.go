package docgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/cyclehub/cyclehub/connectors"
)

// classRow is a run of HTTP statuses the connectors read the same way.
type classRow struct {
	from, to   int
	outcome    connectors.Outcome
	retryAfter bool
}

// probeRetryAfter is the Retry-After each probe answer carries, to see
// whether the outcome keeps it.
const probeRetryAfter = 7 * time.Second

// probe classifies one answer the way every HTTP connector does.
func probe(status int) (connectors.Outcome, bool) {
	resp := &resty.Response{RawResponse: &http.Response{
		StatusCode: status,
		Header:     http.Header{"Retry-After": {fmt.Sprint(int(probeRetryAfter.Seconds()))}},
	}}
	out, after := connectors.Classify(connectors.ClassifyHTTP("probe", resp, nil))
	return out, after == probeRetryAfter
}

// classRows groups the statuses 200 to 599 into runs of one outcome,
// never across a hundred.
func classRows() []classRow {
	var rows []classRow
	for s := 200; s <= 599; s++ {
		out, ra := probe(s)
		if n := len(rows); n > 0 && rows[n-1].outcome == out && rows[n-1].retryAfter == ra && rows[n-1].to == s-1 && (s%100 != 0) {
			rows[n-1].to = s
			continue
		}
		rows = append(rows, classRow{from: s, to: s, outcome: out, retryAfter: ra})
	}
	return rows
}

func outcomeText(o connectors.Outcome) string {
	switch o {
	case connectors.Delivered:
		return "delivered"
	case connectors.Retry:
		return "retried on the schedule"
	case connectors.Dead:
		return "dead letter"
	case connectors.Disable:
		return "dead letter, and **the destination is disabled** until a replay names it"
	}
	return o.String()
}

// classification renders how the HTTP connectors read answers, probed from
// connectors.ClassifyHTTP and connectors.Classify.
func classification(b *bytes.Buffer) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("## How answers are classified\n\n")
	p("Every HTTP connector reads the destination's answer with `connectors.ClassifyHTTP`; the delivery\n")
	p("engine turns the result into an outcome with `connectors.Classify`. This table is computed by\n")
	p("putting every status from 200 to 599, with a `Retry-After`, through them. Redirects are never\n")
	p("followed, so a 3xx is an answer like any other.\n\n")
	p("| Answer | Outcome | `Retry-After` honoured |\n|---|---|---|\n")
	for _, r := range classRows() {
		label := fmt.Sprint(r.from)
		if r.to != r.from {
			label = fmt.Sprintf("%d–%d", r.from, r.to)
		} else if t := http.StatusText(r.from); t != "" {
			label += " " + t
		}
		ra := "—"
		if r.outcome == connectors.Retry {
			ra = yesNo(r.retryAfter)
		}
		p("| %s | %s | %s |\n", label, outcomeText(r.outcome), ra)
	}
	for _, c := range []struct {
		label string
		err   error
	}{
		{"No answer: connection refused or reset, DNS failure", errors.New("dial tcp: connection refused")},
		{"No answer: the call timed out (`http.timeout`)", context.DeadlineExceeded},
	} {
		out, _ := connectors.Classify(connectors.ClassifyHTTP("probe", nil, c.err))
		p("| %s | %s | — |\n", c.label, outcomeText(out))
	}
	out, _ := connectors.Classify(errors.New("unclassified"))
	p("\nAn error a connector returns without classifying it is %s. Connectors refine the table where\n", outcomeText(out))
	p("they know better: Slack reads some 404 answers as gone, and HubSpot reads per-record errors in\n")
	p("batch answers ([deliveries.md](deliveries.md#which-answers-are-retried)). A retried answer's wait\n")
	p("is bounded by `delivery.retry_after_min` and `delivery.retry_after_max`. Inside one attempt, the\n")
	p("HTTP client also retries connection failures, 429 and 5xx except 501 (`http.retries`), unless\n")
	p("`Retry-After` asks for more than 2s.\n\n")
}
