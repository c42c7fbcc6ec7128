// Package mapping is CycleHub's pure domain: the canonical types every layer
// shares (raw requests, canonical events, customer records, CloudEvents), the
// body parsers and normalizers, and the provider mappers that turn a raw
// request into a canonical event.
//
// What belongs here: deterministic functions of their inputs. What does not:
// I/O of any kind, logging, goroutines, randomness or time.Now — callers pass
// the clock's reading in (RawRequest.ReceivedAt, explicit "now" arguments).
// Every other package may import mapping; mapping imports nothing of ours.
package mapping
