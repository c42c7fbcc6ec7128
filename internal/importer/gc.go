package importer

import (
	"os"
	"runtime/debug"
)

// batchGCPercent is the garbage collector's target while an import runs.
// An import allocates a great deal (every row is decoded, mapped, resolved
// and encoded for PostgreSQL) but keeps little alive: a few batches. At
// Go's default of 100 the collector took a quarter of the import's CPU;
// at 400 the heap stays in the tens of megabytes and the import is about
// a fifth faster (docs/import.md, Throughput).
const batchGCPercent = 400

// TuneGC sets the garbage collector for a batch process that runs an
// import, unless the operator chose with GOGC, and returns what undoes it.
// A long-running daemon keeps the default.
func TuneGC() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	old := debug.SetGCPercent(batchGCPercent)
	return func() { debug.SetGCPercent(old) }
}
