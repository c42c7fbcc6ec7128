// Package pipeline is CycleHub's orchestration: workers claim batches of
// stored webhooks, map them, resolve each to a customer, fold the event into
// the record and write the result with its outbox events in the same
// transaction; the relay publishes the outbox to the stream.
//
// What belongs here: the order of the stages and the decisions about
// failures (retry, quarantine, isolate a poison request). What does not:
// SQL, HTTP or Kafka. The pipeline talks to storage and sinks only through
// the small interfaces declared in ports.go, and classifies errors by
// behaviour (Permanent, RecordErrors), never by message.
package pipeline
