package mapping

import "strings"

// ReferrerRef reads a referred_by value (a form field, a survey's hidden
// field, an event property): the referrer's customer id, email, or the
// tenant's user id. It returns the identity to look the referrer up by,
// or their customer id; neither when the value is junk.
func ReferrerRef(v string) (id Identity, customerID string) {
	s := CleanText(v)
	switch {
	case s == "" || IsJunk(s):
		return Identity{}, ""
	case isUUID(s):
		return Identity{}, strings.ToLower(s)
	case strings.Contains(s, "@"):
		if e := NormalizeEmail(s); e != "" {
			return Identity{Type: IdentityEmail, Value: e}, ""
		}
		return Identity{}, ""
	}
	return Identity{Type: IdentityUserID, Value: s}, ""
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if r != '-' {
				return false
			}
		case !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F'):
			return false
		}
	}
	return true
}
