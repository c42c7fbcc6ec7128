package pgstore_test

import (
	"context"
	"maps"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

func TestStageCountsCountOnlyCurrentCustomers(t *testing.T) {
	st, url := pgtest.Open(t)
	ctx := context.Background()
	if got, err := st.StageCounts(ctx); err != nil || len(got) != 0 {
		t.Fatalf("empty store: %v %v, want no stages", got, err)
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	add := func(stage any, extra string) uuid.UUID {
		t.Helper()
		id := uuid.New()
		if _, err := conn.Exec(ctx, `INSERT INTO customers (id, version, created_at, updated_at, stage) VALUES ($1, 1, now(), now(), $2)`, id, stage); err != nil {
			t.Fatal(err)
		}
		if extra != "" {
			if _, err := conn.Exec(ctx, `UPDATE customers SET `+extra+` WHERE id = $1`, id); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	survivor := add("lead", "")
	add("lead", "")
	add("customer", "")
	add(nil, "") // no stage yet
	add("customer", "erased_at = now()")
	if _, err := conn.Exec(ctx, `INSERT INTO customers (id, version, created_at, updated_at, stage, merged_into, merged_at)
		VALUES ($1, 1, now(), now(), 'opportunity', $2, now())`, uuid.New(), survivor); err != nil {
		t.Fatal(err)
	}

	got, err := st.StageCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"lead": 2, "customer": 1, "": 1}
	if !maps.Equal(got, want) {
		t.Fatalf("stage counts = %v, want %v (erased and merged customers excluded)", got, want)
	}
}
