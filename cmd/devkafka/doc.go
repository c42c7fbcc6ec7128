// Command devkafka runs a single-broker, Kafka-protocol compatible broker for
// local development, built on franz-go's in-process fake cluster
// (github.com/twmb/franz-go/pkg/kfake).
//
// It is a development tool only: scripts/devstack.sh builds it into
// .dev/bin/devkafka and starts it in the background. Integration tests do
// not need it; they start their own in-process cluster through
// internal/testsvc.Kafka.
//
// Usage:
//
//	devkafka [-addr 127.0.0.1:19092] [-partitions 3] [-seed-topics a,b]
//	         [-data-dir DIR] [-sync-writes] [-log-level error]
//
// Flags:
//
//	-addr         host:port to listen on. The host must be a loopback address
//	              (127.0.0.0/8, ::1 or "localhost"); the broker advertises
//	              exactly this address in metadata responses.
//	-partitions   partition count for -seed-topics and for topics created
//	              through CreateTopics with -1 partitions (default 3).
//	-seed-topics  comma-separated topics to create at start-up.
//	-data-dir     optional directory for on-disk persistence; state (topics,
//	              records, committed offsets, producer ids) survives restarts.
//	-sync-writes  fsync every produced batch (only with -data-dir).
//	-log-level    kfake's log level: none, error, warn, info, debug.
//
// What kfake offers and how devkafka uses it (checked against kfake
// v0.0.0-20260918054303-01f206a7e32c):
//
//   - Listen address: kfake always listens on "127.0.0.1:<port>"
//     (newListener formats that address itself); kfake.Ports chooses the
//     port. kfake.ListenFn replaces net.Listen, so devkafka passes one that
//     keeps kfake's port but binds the loopback host given in -addr.
//     Nothing ever listens on a non-loopback interface.
//   - Topic auto-creation: off by default. kfake only auto-creates a topic
//     on a Metadata request when the cluster was built with
//     kfake.AllowAutoTopicCreation() AND the client asks for it; Produce
//     to an unknown topic always fails with UNKNOWN_TOPIC_OR_PARTITION.
//     devkafka never passes AllowAutoTopicCreation, so topics exist only if
//     seeded, persisted, or created explicitly (CreateTopics).
//   - Persistence: kfake.DataDir(dir) persists state and reloads it in
//     NewCluster; kfake.SyncWrites() fsyncs each batch. When state is
//     reloaded kfake skips kfake.SeedTopics, so devkafka creates any missing
//     seed topic itself through a CreateTopics request after start-up.
//
// The process prints one "devkafka: ready" line when it accepts
// connections and shuts down cleanly (flushing persisted state) on SIGINT or
// SIGTERM.
package main
