package pipeline

import (
	"context"
	"slices"
	"strings"

	"github.com/cyclehub/cyclehub/mapping"
)

// dropSuppressed removes the events about erased people (any of whose
// identifiers is on the suppression list): they are acknowledged but
// leave nothing, and their request's raw payload is wiped. A request
// whose every record is dropped ends "suppressed" rather than "done".
func (w *Workers) dropSuppressed(ctx context.Context, b Batch, items []item, eff *mapping.Effects) ([]item, error) {
	if len(items) == 0 {
		return items, nil
	}
	var hashes [][]byte
	byItem := make([][]string, len(items))
	for i, it := range items {
		for _, id := range it.ev.Identities {
			h := mapping.SuppressionHash(w.SuppressionKey, id)
			hashes = append(hashes, h)
			byItem[i] = append(byItem[i], string(h))
		}
	}
	suppressed, err := b.Suppressed(ctx, hashes)
	if err != nil || len(suppressed) == 0 {
		return items, err
	}
	kept := items[:0]
	wiped := map[int64]bool{}
	remaining := map[int64]int{}
	for i, it := range items {
		if slices.ContainsFunc(byItem[i], func(h string) bool { return suppressed[h] }) {
			wiped[it.req.ID] = true
			continue
		}
		remaining[it.req.ID]++
		kept = append(kept, it)
	}
	for id := range wiped {
		eff.Suppressed = append(eff.Suppressed, id)
		if remaining[id] == 0 {
			eff.Done = slices.DeleteFunc(eff.Done, func(d int64) bool { return d == id })
		}
	}
	slices.Sort(eff.Suppressed)
	return kept, nil
}

// dropTestIdentities removes the configured test addresses from events
// (they identify no one); an event left without an identifier has no
// effect.
func (w *Workers) dropTestIdentities(items []item) []item {
	if len(w.Identity.TestEmails) == 0 {
		return items
	}
	kept := items[:0]
	for _, it := range items {
		it.ev.Identities = slices.DeleteFunc(it.ev.Identities, func(id mapping.Identity) bool {
			return id.Type == mapping.IdentityEmail && w.isTestEmail(id.Value)
		})
		if e := it.ev.Traits["email"]; e != "" && w.isTestEmail(e) {
			// Nor does it describe anyone: the email and what was read
			// from it go too.
			for _, k := range emailTraits {
				delete(it.ev.Traits, k)
			}
		}
		if len(it.ev.Identities) > 0 {
			kept = append(kept, it)
		}
	}
	return kept
}

// emailTraits are the traits an email gives (mapping.Enrich).
var emailTraits = []string{"email", "email_domain", "company_domain", "email_is_free", "email_is_role", "email_is_disposable"}

// isTestEmail matches an address, or a domain given as "@example.test".
func (w *Workers) isTestEmail(email string) bool {
	for _, t := range w.Identity.TestEmails {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == email || strings.HasPrefix(t, "@") && strings.HasSuffix(email, t) {
			return true
		}
	}
	return false
}
