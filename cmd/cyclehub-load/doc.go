// Command cyclehub-load is CycleHub's load generator (issue 8). It sends
// realistic, correctly signed webhooks to a running daemon, at a fixed
// arrival rate (--rate, open loop) or from a fixed number of senders
// (--concurrency, closed loop), for --duration or --requests, and reports:
//
//   - throughput (acked requests per second), ack latency p50/p99/p99.9 from
//     a fixed-size log-linear histogram, and the answers by status class
//     (503 is backpressure);
//   - webhook→Kafka latency p50/p99/p99.9: the lifecycle topic is read from
//     its end offsets, and each event is matched to its request by
//     data.trigger.request_id (an event may arrive before its ack is read);
//   - a loss check after a drain: every acked request is in the customer
//     records exactly once, and every event its processing wrote is on the
//     stream (verify.go explains how). Any loss or duplicate exits 1.
//
// Requests are built from the shared provider samples (--fixtures, the
// files of /work/shared/fixtures) with the per-request fields replaced:
// a person per request (new ones, plus --repeat-share of repeats so that
// identity resolution has work), delivery ids, ticket and response ids,
// times, campaigns and scores. Sources, their providers and their secrets
// come from the daemon's config file (--config), expanded from the
// environment the same way the daemon does, and each request is signed the
// way webhooks/ verifies it (sign.go).
//
// What belongs here: generating load against one daemon and judging what
// it did with it. What does not: starting or configuring the daemon, or
// any provider that needs the provider's API (Meta, LinkedIn, the HubSpot
// webhooks API, SurveyMonkey, Qualtrics): the dev config fetches those from
// the real APIs, so the generator refuses them.
package main
