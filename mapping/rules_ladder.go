package mapping

import (
	"cmp"
	"maps"
	"slices"
)

// Ladder returns the stages in ladder order: by rank, the unranked ones
// (rank 0, e.g. other) last, ties by name.
func (m *Model) Ladder() []StageDef {
	out := slices.Collect(maps.Values(m.ladder))
	slices.SortFunc(out, func(a, b StageDef) int {
		if (a.Rank == 0) != (b.Rank == 0) {
			if a.Rank == 0 {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.Rank, b.Rank), cmp.Compare(a.Name, b.Name))
	})
	return out
}
