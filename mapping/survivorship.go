package mapping

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Survivorship rules decide which value of a trait a customer keeps when
// events (or two merged records) disagree (DOMAIN.md, Identity).
const (
	// RuleLatest keeps the most recent non-empty value by event time.
	RuleLatest = "latest"
	// RuleFirst keeps the first value ever seen (by event time).
	RuleFirst = "first"
	// RuleSourcePrecedence keeps the value of the most trusted source
	// (Sources, most trusted first; unlisted sources rank last), the most
	// recent among equals.
	RuleSourcePrecedence = "source_precedence"
	// RuleHighest keeps the highest value: by Ranks when given (lowest
	// first), else numerically; the most recent among equals.
	RuleHighest = "highest"
)

// TraitRule is the survivorship of one trait.
type TraitRule struct {
	Rule    string   `yaml:"rule"`
	Sources []string `yaml:"sources"`
	Ranks   []string `yaml:"ranks"`
}

// Survivorship configures trait survivorship: a default rule and rules per
// trait.
type Survivorship struct {
	Default string               `yaml:"default"`
	Traits  map[string]TraitRule `yaml:"traits"`
}

// DefaultSurvivorship is DOMAIN.md's: the latest non-empty value wins,
// firmographics come from the most trusted source first (the CRM of
// record, then the company's own product events, then the enrichment
// API, then LinkedIn's self-declared profile data).
func DefaultSurvivorship() Survivorship {
	firmo := TraitRule{Rule: RuleSourcePrecedence, Sources: []string{"hubspot", "hubspot_workflow", "events", EnrichmentSource, "linkedin"}}
	return Survivorship{Default: RuleLatest, Traits: map[string]TraitRule{
		"company": firmo, "industry": firmo, "company_size": firmo,
	}}
}

// Validate reports every problem, each prefixed by its key.
func (s Survivorship) Validate() []error {
	var errs []error
	check := func(key string, r TraitRule) {
		switch r.Rule {
		case RuleLatest, RuleFirst, RuleHighest:
		case RuleSourcePrecedence:
			if len(r.Sources) == 0 {
				errs = append(errs, fmt.Errorf("%s.sources: %s needs the sources, most trusted first", key, r.Rule))
			}
		default:
			errs = append(errs, fmt.Errorf("%s.rule: must be latest, first, source_precedence or highest; got %q", key, r.Rule))
		}
	}
	check("default", TraitRule{Rule: s.Default, Sources: []string{"-"}})
	if s.Default == RuleSourcePrecedence {
		errs = append(errs, fmt.Errorf("default: source_precedence names sources per trait; use it under traits"))
	}
	for _, k := range sortedKeys(s.Traits) {
		check("traits."+k, s.Traits[k])
	}
	return errs
}

func (s Survivorship) rule(trait string) TraitRule {
	if r, ok := s.Traits[trait]; ok {
		return r
	}
	if s.Default == "" {
		return TraitRule{Rule: RuleLatest}
	}
	return TraitRule{Rule: s.Default}
}

// wins reports whether candidate replaces current under the trait's rule.
func (s Survivorship) wins(trait string, candidate, current TraitValue) bool {
	if candidate.Value == current.Value {
		return false
	}
	newer := candidate.ObservedAt.After(current.ObservedAt)
	notOlder := !candidate.ObservedAt.Before(current.ObservedAt)
	switch r := s.rule(trait); r.Rule {
	case RuleFirst:
		return candidate.ObservedAt.Before(current.ObservedAt)
	case RuleSourcePrecedence:
		a, b := sourceRank(r.Sources, candidate.Source), sourceRank(r.Sources, current.Source)
		return a < b || a == b && notOlder
	case RuleHighest:
		switch c := compareRank(r.Ranks, candidate.Value, current.Value); {
		case c != 0:
			return c > 0
		default:
			return newer
		}
	}
	return notOlder
}

func sourceRank(sources []string, source string) int {
	if i := slices.Index(sources, source); i >= 0 {
		return i
	}
	return len(sources)
}

// compareRank orders two values by their place in ranks (unlisted values
// rank below every listed one), or numerically without ranks; values that
// cannot be ordered compare equal.
func compareRank(ranks []string, a, b string) int {
	if len(ranks) > 0 {
		rank := func(v string) int {
			return slices.IndexFunc(ranks, func(r string) bool { return strings.EqualFold(r, v) })
		}
		return rank(a) - rank(b)
	}
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	switch {
	case errA != nil || errB != nil:
		return 0
	case x > y:
		return 1
	case x < y:
		return -1
	}
	return 0
}
