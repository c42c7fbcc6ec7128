package mapping

import (
	"sort"
	"strings"
	"unicode"
)

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SnakeCase lowercases s and joins its words with underscores: "Order
// Completed", "orderCompleted" and "order-completed" all become
// order_completed.
func SnakeCase(s string) string {
	var b strings.Builder
	prevLower := false
	pending := false
	for _, r := range strings.TrimSpace(s) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if pending || unicode.IsUpper(r) && prevLower {
				if b.Len() > 0 {
					b.WriteByte('_')
				}
				pending = false
			}
			b.WriteRune(unicode.ToLower(r))
			prevLower = unicode.IsLower(r) || unicode.IsDigit(r)
		default:
			pending, prevLower = true, false
		}
	}
	return b.String()
}
