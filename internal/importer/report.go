package importer

import (
	"time"

	"github.com/cyclehub/cyclehub/store/pgstore"
)

// Report is the outcome of an import run. Counts are the run's, across
// every time it was resumed; the duration and rate are this invocation's.
type Report struct {
	Run    int64  `json:"run"`
	File   string `json:"file"`
	Source string `json:"source"`
	Format string `json:"format"`
	// Resumed: an earlier invocation of the same import was interrupted.
	Resumed bool `json:"resumed"`
	// Complete: every row is read and processed (the run is closed).
	Complete bool `json:"complete"`
	// Interrupted: stopped before completing; running the same import
	// again resumes it.
	Interrupted bool `json:"interrupted"`
	// RowsRead counts the rows read (blank CSV rows aside); each is
	// enqueued, skipped or rejected.
	RowsRead int64 `json:"rows_read"`
	Enqueued int64 `json:"enqueued"`
	// Skipped rows were already imported (same content and mapping, by
	// this or an earlier import, or twice in the file).
	Skipped int64 `json:"skipped"`
	// Rejected rows could not be read (see Problems).
	Rejected int64 `json:"rejected"`
	// Adopted rows were left waiting by an interrupted import of the same
	// source and mapping, and processed by this one.
	Adopted   int64 `json:"adopted"`
	Processed int64 `json:"processed"`
	// Quarantined rows could not be mapped or stored (see Problems).
	Quarantined      int64 `json:"quarantined"`
	CustomersCreated int64 `json:"customers_created"`
	// CustomersUpdated counts updates (a customer updated by two rows
	// counts twice); a row that changes nothing updates nobody.
	CustomersUpdated int64 `json:"customers_updated"`
	// Problems are the first rejected or quarantined rows, in file order.
	Problems []Problem `json:"problems"`
	// AllRead: every row of the file is stored; NextLine is where reading
	// resumes otherwise.
	AllRead  bool  `json:"all_read"`
	NextLine int64 `json:"next_line"`
	// Waiting lists other unfinished imports of the source.
	Waiting         []WaitingRun  `json:"waiting_runs,omitempty"`
	Duration        time.Duration `json:"-"`
	DurationSeconds float64       `json:"duration_seconds"`
	// RowsPerSecond is rows processed per second in this invocation (rows
	// read, when it processed none: an import run again).
	RowsPerSecond float64 `json:"rows_per_second"`
}

// Problem is a row that was not applied.
type Problem struct {
	Line int64 `json:"line"`
	// Status is rejected (it could not be read) or quarantined (it could
	// not be mapped or stored).
	Status string `json:"status"`
	Reason string `json:"reason"`
}

// WaitingRun is an unfinished import whose rows wait to be processed.
type WaitingRun struct {
	Run       int64     `json:"run"`
	File      string    `json:"file"`
	StartedAt time.Time `json:"started_at"`
	// Line is where reading would resume.
	Line int64 `json:"next_line"`
}

func newReport(run pgstore.ImportRun, resumed, interrupted bool, took time.Duration) Report {
	return Report{
		Run: run.ID, File: run.FileName, Source: run.Source, Format: run.Format,
		Resumed: resumed, Complete: run.FinishedAt != nil, Interrupted: interrupted,
		RowsRead: run.RowsRead, Enqueued: run.Enqueued, Skipped: run.Skipped, Rejected: run.Rejected,
		Adopted: run.Adopted, Processed: run.Processed, Quarantined: run.Quarantined,
		CustomersCreated: run.CustomersCreated, CustomersUpdated: run.CustomersUpdated,
		AllRead: run.ReadAt != nil, NextLine: run.NextLine, Problems: []Problem{}, Duration: took, DurationSeconds: took.Seconds(),
	}
}
