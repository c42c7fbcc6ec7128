package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/store/pgstore"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

// exportID is the id of the i-th customer of seedExport.
func exportID(i int) string { return fmt.Sprintf("0198f3a0-0000-7000-8000-%012d", i) }

// seedExport stores customers 1–7 (live; 2 and 5 in stage lead, the
// others customer; updated on 2026-11-0<i>) with identities, traits,
// consent, tickets (25 for customer 1: more than a view lists), survey
// answers and stints; 8 merged into 1 (with the merge and a refused
// merge naming 1 and 3) and 9 erased.
func seedExport(t *testing.T, url string) {
	t.Helper()
	var stmts []string
	for i := 1; i <= 9; i++ {
		stage := "customer"
		if i == 2 || i == 5 {
			stage = "lead"
		}
		merged, erased := "NULL", "NULL"
		if i == 8 {
			merged = "'" + exportID(1) + "'"
		}
		if i == 9 {
			erased = "'2026-11-20'"
		}
		stmts = append(stmts, fmt.Sprintf(`
			INSERT INTO customers (id, version, created_at, updated_at, stage, stage_entered_at, customer_status, traits, consent,
			                       scores, first_touch, merged_into, erased_at)
			VALUES ('%[1]s', %[2]d, '2026-10-01', '2026-11-0%[2]d', '%[3]s', '2026-10-02', 'active',
			        '{"company": {"value": "Acme %[2]d", "source": "form", "observed_at": "2026-10-01T00:00:00Z"},
			          "plan_%[2]d": {"value": "=HYPERLINK(\"x\")", "source": "form", "observed_at": "2026-10-01T00:00:00Z"}}',
			        '{"email_marketing": {"status": "granted", "source": "form", "method": "checkbox", "at": "2026-10-01T00:00:00Z"}}',
			        '{"fit": 42.5, "engagement": 10, "health": 80, "band": "B3", "model": "m1"}',
			        '{"source": "google", "medium": "cpc", "channel": "paid_search", "at": "2026-10-01T00:00:00Z"}', %[4]s, %[5]s);
			INSERT INTO identities (type, value, customer_id, source, first_seen, last_seen) VALUES
			  ('email', 'p%[2]d@example.com', '%[1]s', 'form', '2026-10-01', '2026-10-01'),
			  ('phone', '+4930123456%[2]d', '%[1]s', 'form', '2026-10-01', '2026-10-01');
			INSERT INTO stage_history (customer_id, stage, entered_at, exited_at, direction, rule_id) VALUES
			  ('%[1]s', 'lead', '2026-10-01', '2026-10-02', 'forward', 'lead'),
			  ('%[1]s', '%[3]s', '2026-10-02', NULL, 'forward', 'customer');
			INSERT INTO survey_responses (customer_id, source, response_id, kind, score, answered_at)
			  VALUES ('%[1]s', 'delighted', 'r%[2]d', 'nps', %[2]d, '2026-10-05')`,
			exportID(i), i, stage, merged, erased))
	}
	stmts = append(stmts,
		`INSERT INTO tickets (customer_id, source, ticket_id, status, opened_at, updated_at)
		 SELECT '`+exportID(1)+`', 'zendesk', 't' || n, 'open', '2026-10-01', timestamptz '2026-10-01' + n * interval '1 hour'
		 FROM generate_series(1, 25) AS n`,
		`INSERT INTO tickets (customer_id, source, ticket_id, status, opened_at, updated_at)
		 VALUES ('`+exportID(4)+`', 'zendesk', 'u1', 'solved', '2026-10-01', '2026-10-03')`,
		`INSERT INTO merges (survivor_id, merged_id, identity_type, source, merged_at)
		 VALUES ('`+exportID(1)+`', '`+exportID(8)+`', 'email', 'form', '2026-10-04')`,
		`INSERT INTO merge_conflicts (customer_ids, reason, source, detected_at)
		 VALUES (ARRAY['`+exportID(1)+`', '`+exportID(3)+`']::uuid[], 'two user ids', 'form', '2026-10-04')`,
		`DELETE FROM identities WHERE customer_id IN ('`+exportID(8)+`', '`+exportID(9)+`')`,
	)
	execAll(t, url, stmts...)
}

// exportAll runs an export and returns its pages.
func exportAll(t *testing.T, st *pgstore.Store, f pgstore.ExportFilter) [][]*pgstore.CustomerView {
	t.Helper()
	var pages [][]*pgstore.CustomerView
	if err := st.ExportCustomers(context.Background(), f, func(p []*pgstore.CustomerView) error {
		pages = append(pages, p)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return pages
}

func exportedIDs(pages [][]*pgstore.CustomerView) []string {
	var ids []string
	for _, p := range pages {
		for _, v := range p {
			ids = append(ids, v.Customer.ID)
		}
	}
	return ids
}

func TestExportStreamsEveryLiveCustomerAsGetCustomerShowsIt(t *testing.T) {
	st, url := pgtest.Open(t)
	seedExport(t, url)
	ctx := context.Background()
	live := []string{exportID(1), exportID(2), exportID(3), exportID(4), exportID(5), exportID(6), exportID(7)}
	for _, tt := range []struct {
		name     string
		pageSize int
		pages    []int
	}{
		{"one page holds them all by default", 0, []int{7}},
		{"pages of three end with a short page", 3, []int{3, 3, 1}},
		{"pages of one read one customer at a time", 1, []int{1, 1, 1, 1, 1, 1, 1}},
		{"pages of seven end with an empty read", 7, []int{7}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pages := exportAll(t, st, pgstore.ExportFilter{PageSize: tt.pageSize})
			var sizes []int
			for _, p := range pages {
				sizes = append(sizes, len(p))
			}
			if !slices.Equal(sizes, tt.pages) {
				t.Errorf("page sizes %v, want %v", sizes, tt.pages)
			}
			if got := exportedIDs(pages); !slices.Equal(got, live) {
				t.Fatalf("exported %v, want the live customers %v in id order (not merged 8, not erased 9)", got, live)
			}
			for _, p := range pages {
				for _, v := range p {
					want, err := st.GetCustomer(ctx, v.Customer.ID)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(v, want) {
						t.Errorf("customer %s exported as\n%+v\nGetCustomer shows\n%+v", v.Customer.ID, v, want)
					}
				}
			}
		})
	}
	// The details a page attaches belong to the right customers.
	pages := exportAll(t, st, pgstore.ExportFilter{PageSize: 3})
	first, fourth := pages[0][0], pages[1][0]
	if len(first.Tickets) != 20 || first.Tickets[0].TicketID != "t25" || len(fourth.Tickets) != 1 {
		t.Errorf("tickets: %d for 1 (latest %s), %d for 4; want the latest 20 and 1", len(first.Tickets), first.Tickets[0].TicketID, len(fourth.Tickets))
	}
	if len(first.Merges) != 1 || len(first.Conflicts) != 1 || len(pages[0][2].Conflicts) != 1 || len(pages[0][1].Conflicts) != 0 {
		t.Errorf("merges and conflicts are not where they belong: %+v %+v", first.Merges, first.Conflicts)
	}
	if len(fourth.Identities) != 2 || fourth.Identities[0].Value != "p4@example.com" || len(fourth.StageHistory) != 2 {
		t.Errorf("customer 4: identities %+v, stages %+v", fourth.Identities, fourth.StageHistory)
	}
}

func TestExportFilters(t *testing.T) {
	st, url := pgtest.Open(t)
	seedExport(t, url)
	for _, tt := range []struct {
		name string
		f    pgstore.ExportFilter
		want []int
	}{
		{"a stage keeps the customers in it", pgstore.ExportFilter{Stage: "lead", PageSize: 1}, []int{2, 5}},
		{"updated_since keeps the customers updated at or after it", pgstore.ExportFilter{UpdatedSince: time.Date(2026, 11, 6, 0, 0, 0, 0, time.UTC), PageSize: 1}, []int{6, 7}},
		{"both filters apply together", pgstore.ExportFilter{Stage: "lead", UpdatedSince: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)}, []int{5}},
		{"a stage nobody is in exports nothing", pgstore.ExportFilter{Stage: "evangelist"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var want []string
			for _, i := range tt.want {
				want = append(want, exportID(i))
			}
			if got := exportedIDs(exportAll(t, st, tt.f)); !slices.Equal(got, want) {
				t.Errorf("exported %v, want %v", got, want)
			}
		})
	}
}

func TestExportTraitKeysAreTheSelectedCustomersTraits(t *testing.T) {
	st, url := pgtest.Open(t)
	seedExport(t, url)
	keys, err := st.ExportTraitKeys(context.Background(), pgstore.ExportFilter{Stage: "lead"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"company", "plan_2", "plan_5"}; !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
}

func TestExportStopsWhenThePageCallbackFails(t *testing.T) {
	st, url := pgtest.Open(t)
	seedExport(t, url)
	stop := errors.New("client gone")
	calls := 0
	err := st.ExportCustomers(context.Background(), pgstore.ExportFilter{PageSize: 2}, func([]*pgstore.CustomerView) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("err %v after %d pages, want the callback's error after 1", err, calls)
	}
}
