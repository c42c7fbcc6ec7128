// Package importer loads existing contacts, tickets or survey answers from
// a CSV or JSONL file through the same mapping, identity resolution,
// lifecycle rules and outbox as webhooks (`cyclehub import`,
// docs/import.md).
//
// # Design
//
// Each row becomes a JSON object (CSV: the header row names the fields)
// and is stored in the inbox as a request of the import's source, in
// batches of thousands per statement. Pipeline workers run by the import
// process itself claim those rows and process them with the real pipeline
// code (pipeline.Workers): the mapping given to the import, then
// resolution, scoring, stages, the outbox and deliveries, one transaction
// per batch, exactly as for a webhook. So there is one processing path,
// and the import needs no running daemon.
//
// The rows are stored with the inbox status 'importing' rather than
// 'pending': a daemon's workers would claim pending rows and map them
// with the daemon's mappings, which do not include the import's mapping
// file, and quarantine them. Importing rows are invisible to the daemon
// (and outside the pending index its claims scan); only the import run
// that owns them (inbox.import_run) claims them. A running daemon
// therefore does not help process an import; start more import workers
// (--workers) instead.
//
// Idempotency. A row's dedup key is a hash of its content (the JSON object
// with its keys sorted: column order, whitespace and key order do not
// matter) and of the mapping (its compiled form and the default region),
// under the source. The inbox's unique (source, dedup_key) index skips a
// row already stored, so importing the same file again adds nothing; a
// file with some rows edited stores only the edited rows, which update the
// same customers through identity resolution; a changed mapping imports
// every row again (the same data read differently must be applied again).
// Duplicate rows within a file count once. As for webhooks, the keys live
// as long as the inbox keeps the rows (privacy.retention.raw_payloads).
//
// Resumption. A run is keyed by source, file content (sha256) and mapping.
// Each batch of rows is stored in one statement together with the run's
// checkpoint (byte offset and line of the next row) and counters, so an
// interrupted import, run again with the same file and mapping, continues
// after its last stored batch and counts every row once; the pipeline adds
// its counts (processed, quarantined, customers created and updated) in
// each batch's own transaction. A run whose file was edited before it was
// run again is a new run: it adopts the waiting rows of the interrupted
// run of the same source and mapping, which it would otherwise skip as
// already stored without ever processing them.
//
// Bad rows are never dropped: a row that does not parse (CSV quoting, a
// wrong number of fields, JSON that is not an object, invalid UTF-8, too
// long) is stored in the inbox as rejected with its line and reason; a row
// the mapping cannot map is quarantined by the pipeline, as a bad webhook
// is. The report lists both with their line numbers.
//
// What belongs here: reading and parsing files, keys, storing batches,
// checkpoints, running the import's workers and reporting progress through
// a callback. What does not: printing, flags and progress bars (cmd), SQL
// (store/pgstore/import.go), and mapping or resolution logic (mapping,
// pipeline).
package importer
