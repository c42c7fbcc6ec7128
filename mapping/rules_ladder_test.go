package mapping_test

import (
	"slices"
	"testing"

	"github.com/cyclehub/cyclehub/configs"
)

func TestTheLadderListsTheStagesByRankWithTheUnrankedLast(t *testing.T) {
	model, err := configs.LoadRules("../configs/rules")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range model.Ladder() {
		names = append(names, s.Name)
	}
	want := []string{"subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist", "other"}
	if !slices.Equal(names, want) {
		t.Fatalf("ladder = %v, want %v", names, want)
	}
}
