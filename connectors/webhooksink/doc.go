// Package webhooksink delivers lifecycle events to any HTTP endpoint as
// signed webhooks (Standard Webhooks: webhook-id, webhook-timestamp,
// webhook-signature), with secret rotation. The body is the event's
// CloudEvent, as on the stream (no direct identifiers).
package webhooksink
