package main

import (
	"fmt"
	"testing"

	"github.com/cyclehub/cyclehub/configs"
)

func TestFunnelBarsFollowTheLadder(t *testing.T) {
	model, err := configs.LoadRules("../../configs/rules")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		counts map[string]int64
		want   string
	}{
		{"an empty store charts every stage at zero", map[string]int64{},
			"[{subscriber 0} {lead 0} {marketingqualifiedlead 0} {salesqualifiedlead 0} {opportunity 0} {customer 0} {evangelist 0} {other 0}]"},
		{"counts land on their stages in ladder order", map[string]int64{"customer": 2, "lead": 5},
			"[{subscriber 0} {lead 5} {marketingqualifiedlead 0} {salesqualifiedlead 0} {opportunity 0} {customer 2} {evangelist 0} {other 0}]"},
		{"a stage no longer on the ladder and customers without a stage come last", map[string]int64{"": 3, "trial": 1, "lead": 1},
			"[{subscriber 0} {lead 1} {marketingqualifiedlead 0} {salesqualifiedlead 0} {opportunity 0} {customer 0} {evangelist 0} {other 0} {trial 1} { 3}]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmt.Sprint(funnelBars(model, tt.counts)); got != tt.want {
				t.Errorf("bars = %s\nwant   %s", got, tt.want)
			}
		})
	}
}
