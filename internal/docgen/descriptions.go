package docgen

// descriptions describe the fields of the config blocks every destination
// shares (subscribe, delivery), whose types live outside connectors/ and
// carry no doc tags. Keyed by "<package path>.<type>.<yaml key>".
// ConnectorReference fails on a field missing here and on an entry that no
// field uses, so the reference cannot silently drift from the types.
var descriptions = map[string]string{
	// mapping.Subscription: which events go to a destination.
	"github.com/cyclehub/cyclehub/mapping.Subscription.types":  "Event types, by short name (created, updated, merged, erased, stage_changed, score_changed) or full name (cyclehub.customer.stage_changed.v1). Empty: every type. An unknown type is an error.",
	"github.com/cyclehub/cyclehub/mapping.Subscription.stages": "Narrows stage_changed events to moves into these stages; other types are not affected. When types is set it must include stage_changed. Each must be on the rules' stage ladder (checked when the config loads). Empty: every stage.",

	// pipeline.DeliveryConfig: how a destination is delivered to.
	"github.com/cyclehub/cyclehub/pipeline.DeliveryConfig.concurrency":      "Attempts (batches) in flight to the destination, per replica. Range 1 to 256.",
	"github.com/cyclehub/cyclehub/pipeline.DeliveryConfig.rate_limit":       "Records per second to the destination, per replica; fractions allowed; 0 is no limit. Waited for before a claim.",
	"github.com/cyclehub/cyclehub/pipeline.DeliveryConfig.batch_size":       "Records per write; 0 is the connector's most (the kinds table above). Range 0 to 1000, and at most the connector's most.",
	"github.com/cyclehub/cyclehub/pipeline.DeliveryConfig.backoff_base":     "Bound of the first retry's wait: attempt n waits a random time in [0, min(backoff_max, backoff_base × 2^(n-1))]. At least 10ms and at most backoff_max.",
	"github.com/cyclehub/cyclehub/pipeline.DeliveryConfig.backoff_max":      "Largest bound of a retry's wait. At most 168h.",
	"github.com/cyclehub/cyclehub/pipeline.DeliveryConfig.max_attempts":     "Attempts before a delivery is dead (a dead letter). Range 1 to 100.",
	"github.com/cyclehub/cyclehub/pipeline.DeliveryConfig.max_age":          "A failed delivery whose next attempt would come more than this after it was queued is dead. Applies only until the delivery's first replay. At least 1m.",
	"github.com/cyclehub/cyclehub/pipeline.DeliveryConfig.retry_after_min":  "Lower bound on the destination's Retry-After. Not negative.",
	"github.com/cyclehub/cyclehub/pipeline.DeliveryConfig.retry_after_max":  "Upper bound on the destination's Retry-After. At least retry_after_min.",
	"github.com/cyclehub/cyclehub/pipeline.DeliveryConfig.breaker_failures": "Consecutive failed attempts that open the destination's circuit breaker (per replica); deliveries deferred while it is open do not count as attempts. At least 1.",
	"github.com/cyclehub/cyclehub/pipeline.DeliveryConfig.breaker_cooldown": "How long the breaker stays open before one probe goes through. At least 100ms.",
	"github.com/cyclehub/cyclehub/pipeline.DeliveryConfig.lease":            "Limit on one attempt, recording its outcome included; a delivery claimed longer ago (its process died) is attempted again. At least 1s, and longer than the connector's http.timeout.",
}
