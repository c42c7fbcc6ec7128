package configs

import (
	"fmt"
	"sort"

	"github.com/cyclehub/cyclehub/connectors"
	"github.com/cyclehub/cyclehub/connectors/hubspotsink"
	"github.com/cyclehub/cyclehub/connectors/slacksink"
	"github.com/cyclehub/cyclehub/connectors/webhooksink"
	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/pipeline"
)

// Connectors is the registry of the outbound connector kinds this build
// supports (explicit: no init-time registration).
func Connectors() *connectors.Registry {
	r, err := connectors.NewRegistry(webhooksink.Kind, slacksink.Kind, hubspotsink.Kind)
	if err != nil {
		panic(err) // a programming error: two kinds of one name
	}
	return r
}

// DestinationConfig is one outbound destination: its connector, the
// connector's own settings (the block named like it), what it subscribes
// to, and how it is delivered to.
type DestinationConfig struct {
	// Connector is the kind: webhook, slack or hubspot.
	Connector string                  `yaml:"connector"`
	Webhook   *webhooksink.Config     `yaml:"webhook"`
	Slack     *slacksink.Config       `yaml:"slack"`
	HubSpot   *hubspotsink.Config     `yaml:"hubspot"`
	Subscribe mapping.Subscription    `yaml:"subscribe"`
	Delivery  pipeline.DeliveryConfig `yaml:"delivery"`
}

// SetDefaults fills a destination before its YAML is decoded over it.
func (c *DestinationConfig) SetDefaults() { c.Delivery = pipeline.DefaultDeliveryConfig() }

// Block returns the connector's own config (nil when it is missing).
func (c DestinationConfig) Block() any {
	switch c.Connector {
	case webhooksink.Kind.Name:
		if c.Webhook != nil {
			return *c.Webhook
		}
	case slacksink.Kind.Name:
		if c.Slack != nil {
			return *c.Slack
		}
	case hubspotsink.Kind.Name:
		if c.HubSpot != nil {
			return *c.HubSpot
		}
	}
	return nil
}

// validate reports every problem with c, each prefixed by its key.
func (c DestinationConfig) validate(reg *connectors.Registry) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	kind, ok := reg.Kind(c.Connector)
	if !ok {
		add("connector: must be one of %v, got %q", reg.Names(), c.Connector)
	}
	blocks := map[string]bool{"webhook": c.Webhook != nil, "slack": c.Slack != nil, "hubspot": c.HubSpot != nil}
	names := make([]string, 0, len(blocks))
	for n := range blocks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if blocks[n] && n != c.Connector {
			add("%s: settings of another connector (this one is %q)", n, c.Connector)
		}
	}
	if ok && !blocks[c.Connector] {
		add("%s: the %s connector's settings are required", c.Connector, c.Connector)
	}
	var block []error
	var httpCfg *connectors.HTTPConfig
	switch {
	case c.Connector == "webhook" && c.Webhook != nil:
		block, httpCfg = c.Webhook.Validate(), &c.Webhook.HTTP
	case c.Connector == "slack" && c.Slack != nil:
		block, httpCfg = c.Slack.Validate(), &c.Slack.HTTP
	case c.Connector == "hubspot" && c.HubSpot != nil:
		block, httpCfg = c.HubSpot.Validate(), &c.HubSpot.HTTP
	}
	// An attempt outliving its lease would be claimed again while the
	// first one may still succeed: sent twice.
	if httpCfg != nil && c.Delivery.Lease <= httpCfg.Timeout {
		add("delivery.lease: must be longer than %s.http.timeout (%s), got %s", c.Connector, httpCfg.Timeout, c.Delivery.Lease)
	}
	for _, e := range block {
		add("%s.%v", c.Connector, e)
	}
	for _, e := range c.Subscribe.Validate() {
		add("subscribe.%v", e)
	}
	for _, e := range c.Delivery.Validate() {
		add("delivery.%v", e)
	}
	if ok && c.Delivery.BatchSize > kind.MaxBatch {
		add("delivery.batch_size: the %s connector takes at most %d record(s) per request, got %d", c.Connector, kind.MaxBatch, c.Delivery.BatchSize)
	}
	return errs
}

// validName reports whether a destination name is letters, digits, _ and
// - (1 to 64 of them).
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
