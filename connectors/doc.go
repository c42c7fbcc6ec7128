// Package connectors holds the sink contract every outbound connector
// implements and the error types they use to report per-record results.
// Implementations live in sub-packages named by kind (kafkasink, …); each
// imports mapping and this package, never the store or the pipeline.
package connectors
