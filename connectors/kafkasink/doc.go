// Package kafkasink publishes lifecycle events to Kafka with kafka-go:
// CloudEvents structured JSON values, ce_* headers, the customer id as key,
// acknowledged by all in-sync replicas.
package kafkasink
