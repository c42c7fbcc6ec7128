// Package pgstore is CycleHub's PostgreSQL storage: the schema and its
// embedded migrations, the durable inbox (with group commit), the batch
// claims and writes of the pipeline, the transactional outbox and the reads
// of the admin API.
//
// What belongs here: SQL and the classification of PostgreSQL errors. What
// does not: deciding what a webhook means (mapping) or what to do about a
// failure (pipeline). pgstore imports mapping only.
package pgstore
