// Package redisstore is CycleHub's Redis storage: the fast path of
// deduplication and the retry schedule of deliveries. Redis is never the
// only copy of anything: PostgreSQL is the truth, so losing Redis slows
// CycleHub down but loses nothing. Keys are cyclehub:<purpose>:<id>.
package redisstore
