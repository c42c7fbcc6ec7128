package hubspotsink

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/cyclehub/cyclehub/connectors"
	"github.com/cyclehub/cyclehub/internal/secret"
)

// Config configures the HubSpot connector.
type Config struct {
	// BaseURL is the API's root (https://api.hubapi.com).
	BaseURL string `yaml:"base_url" doc:"The API root: an http(s) URL without a query."`
	// Token is the private app access token, sent as a bearer token. The
	// app needs the crm.objects.contacts.read and .write scopes.
	Token secret.Secret         `yaml:"token" doc:"The private app access token, sent as a bearer token. The app needs the crm.objects.contacts.read and crm.objects.contacts.write scopes."`
	HTTP  connectors.HTTPConfig `yaml:"http" doc:"The HTTP client."`
	// IDProperty is the unique HubSpot property upserts match contacts on
	// (email): a properties target, or customer_id_property itself when
	// that property is unique in the portal.
	IDProperty string `yaml:"id_property" doc:"The unique HubSpot property upserts match contacts on: the target of a properties entry, or customer_id_property itself when that property is unique in the portal."`
	// CustomerIDProperty is the custom contact property (single-line text)
	// holding CycleHub's customer id, written on every upsert; merges and
	// erasures find contacts by it. It must exist in the portal.
	CustomerIDProperty string `yaml:"customer_id_property" doc:"The custom contact property (single-line text) holding the CycleHub customer id, written on every upsert; merges and erasures find contacts by it. Create it in the portal first."`
	// Properties maps a contact field (email, first_name, last_name, phone,
	// company, job_title, country, stage, or traits.<name> for any trait)
	// to a HubSpot contact property; "" leaves a default field unsynced.
	// Empty field values are not sent (HubSpot keeps what it has).
	Properties map[string]string `yaml:"properties" doc:"Contact field (email, first_name, last_name, phone, company, job_title, country, stage, or traits.<name> for any trait) to HubSpot property. Your entries are merged over the defaults; an empty value turns a default entry off. Property names are lowercase letters, digits and _, and two fields cannot write one property."`
	// StatusProperty, when set, receives customer_status.
	StatusProperty string `yaml:"status_property" doc:"When set, the property that receives customer_status (active, at_risk, churned)."`
}

// contactFields are the Contact fields a properties key may name (besides
// traits.<name>).
var contactFields = []string{"company", "country", "email", "first_name", "job_title", "last_name", "phone", "stage"}

// DefaultConfig returns the defaults documented in the README.
func DefaultConfig() Config {
	return Config{
		BaseURL:            "https://api.hubapi.com",
		HTTP:               connectors.DefaultHTTPConfig(),
		IDProperty:         "email",
		CustomerIDProperty: "cyclehub_customer_id",
		Properties: map[string]string{
			"email": "email", "first_name": "firstname", "last_name": "lastname", "phone": "phone",
			"company": "company", "job_title": "jobtitle", "country": "country", "stage": lifecycleStage,
		},
	}
}

// propertyName is a HubSpot property's internal name.
var propertyName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Validate reports every problem with c, each prefixed by its key.
func (c Config) Validate() []error {
	var errs []error
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, errors.New("base_url: must be an http(s) URL without query (https://api.hubapi.com)"))
	}
	switch tok := c.Token.Reveal(); {
	case tok == "":
		errs = append(errs, errors.New("token: must be set (a HubSpot private app access token)"))
	case strings.ContainsAny(tok, " \t\r\n"):
		errs = append(errs, errors.New("token: must not contain whitespace"))
	}
	for _, err := range c.HTTP.Validate() {
		errs = append(errs, fmt.Errorf("http.%w", err))
	}
	name := func(key, v string) bool {
		if !propertyName.MatchString(v) {
			errs = append(errs, fmt.Errorf("%s: %q is not a HubSpot property name (lowercase letters, digits, _)", key, v))
			return false
		}
		return true
	}
	if c.CustomerIDProperty == "" {
		errs = append(errs, errors.New("customer_id_property: must be set (merges and erasures find contacts by it)"))
	} else {
		name("customer_id_property", c.CustomerIDProperty)
	}
	if c.StatusProperty != "" && name("status_property", c.StatusProperty) && c.StatusProperty == c.CustomerIDProperty {
		errs = append(errs, errors.New("status_property: must differ from customer_id_property"))
	}

	// targets: HubSpot property -> the field writing it.
	targets := map[string]string{}
	keys := make([]string, 0, len(c.Properties))
	for k := range c.Properties {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, field := range keys {
		prop := c.Properties[field]
		key := "properties." + field
		trait, isTrait := strings.CutPrefix(field, "traits.")
		switch {
		case isTrait && trait == "":
			errs = append(errs, fmt.Errorf("%s: name the trait (traits.<name>)", key))
			continue
		case !isTrait && !slices.Contains(contactFields, field):
			errs = append(errs, fmt.Errorf("%s: unknown contact field (one of %s, or traits.<name>)",
				key, strings.Join(contactFields, ", ")))
			continue
		}
		if prop == "" || !name(key, prop) {
			continue
		}
		switch {
		case prop == c.CustomerIDProperty:
			errs = append(errs, fmt.Errorf("%s: %q is customer_id_property, which holds the customer id", key, prop))
		case prop == c.StatusProperty:
			errs = append(errs, fmt.Errorf("%s: %q is status_property", key, prop))
		case targets[prop] != "":
			errs = append(errs, fmt.Errorf("%s: %q is already written by properties.%s", key, prop, targets[prop]))
		default:
			targets[prop] = field
		}
	}

	switch {
	case c.IDProperty == "":
		errs = append(errs, errors.New("id_property: must be set (the unique property upserts match on, email)"))
	case !name("id_property", c.IDProperty):
	case c.IDProperty != c.CustomerIDProperty && targets[c.IDProperty] == "":
		errs = append(errs, fmt.Errorf("id_property: %q is neither customer_id_property nor written by a properties entry",
			c.IDProperty))
	}
	return errs
}

// idField is the contact field whose value is matched on IDProperty (""
// for the customer id); c must be valid.
func (c Config) idField() string {
	if c.IDProperty == c.CustomerIDProperty {
		return ""
	}
	for field, prop := range c.Properties {
		if prop == c.IDProperty {
			return field
		}
	}
	return ""
}

// SetDefaults fills a config block the YAML is about to be decoded over.
func (c *Config) SetDefaults() { *c = DefaultConfig() }
