// Package adminapi serves CycleHub's bearer-token protected admin API under
// /v1: reads of the unified customer record (and later deliveries,
// quarantine, funnel). It reads through the small Store interface it
// declares; cmd wires the PostgreSQL store into it.
package adminapi
