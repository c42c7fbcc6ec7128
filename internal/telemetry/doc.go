// Package telemetry holds CycleHub's Prometheus metrics (cyclehub_*) and the
// observers that attach them to components through their hooks, so the
// components themselves stay free of metrics code.
package telemetry
