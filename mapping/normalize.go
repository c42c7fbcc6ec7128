package mapping

import (
	"net/mail"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// NormalizeEmail trims and lowercases the whole address. Dots and +tags are
// kept: they are never merged automatically (DOMAIN.md, Identity). It
// returns "" when the value is not a plausible address or is junk.
func NormalizeEmail(raw string) string {
	s := strings.ToLower(strings.TrimSpace(raw))
	s = strings.TrimPrefix(s, "mailto:")
	if s == "" || IsJunk(s) {
		return ""
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || !strings.Contains(s[at+1:], ".") {
		return ""
	}
	if addr, err := mail.ParseAddress(s); err != nil || addr.Address != s {
		return ""
	}
	return s
}

// Phone is a parsed phone number.
type Phone struct {
	E164    string // +5511987654321
	Country string // ISO region, "BR"
	Type    string // mobile, fixed_line, … when the library can tell
}

// NormalizePhone parses raw with defaultRegion (ISO code, may be "") for
// national numbers and returns its E.164 form. ok is false when the number
// is not valid.
func NormalizePhone(raw, defaultRegion string) (Phone, bool) {
	s := strings.TrimSpace(raw)
	if s == "" || IsJunk(s) {
		return Phone{}, false
	}
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	n, err := phonenumbers.Parse(s, strings.ToUpper(defaultRegion))
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return Phone{}, false
	}
	return Phone{
		E164:    phonenumbers.Format(n, phonenumbers.E164),
		Country: phonenumbers.GetRegionCodeForNumber(n),
		Type:    phoneType(phonenumbers.GetNumberType(n)),
	}, true
}

func phoneType(t phonenumbers.PhoneNumberType) string {
	switch t {
	case phonenumbers.MOBILE:
		return "mobile"
	case phonenumbers.FIXED_LINE:
		return "fixed_line"
	case phonenumbers.FIXED_LINE_OR_MOBILE:
		return "fixed_line_or_mobile"
	case phonenumbers.TOLL_FREE:
		return "toll_free"
	case phonenumbers.VOIP:
		return "voip"
	default:
		return ""
	}
}

// IsJunk reports placeholder values that must never identify anyone:
// empty, null, -1, anonymous, runs of zeros, "test", "n/a" and the like.
func IsJunk(v string) bool {
	s := strings.ToLower(strings.TrimSpace(v))
	switch s {
	case "", "null", "nil", "none", "undefined", "-1", "0", "anonymous", "unknown",
		"n/a", "na", "test", "-", "noemail@example.com", "no@email.com":
		return true
	}
	// Only zeros (and separators): 0000, 000-000-0000, +00 000.
	zeros := 0
	for _, r := range s {
		switch {
		case r == '0':
			zeros++
		case r == '+' || r == '-' || r == ' ' || r == '(' || r == ')' || r == '.':
		default:
			return false
		}
	}
	return zeros > 0
}

// SplitName splits a full name into first and last: the first word, and the
// rest ("Maria da Silva" → "Maria", "da Silva").
func SplitName(full string) (first, last string) {
	fields := strings.FieldsFunc(strings.TrimSpace(full), unicode.IsSpace)
	switch len(fields) {
	case 0:
		return "", ""
	case 1:
		return fields[0], ""
	default:
		return fields[0], strings.Join(fields[1:], " ")
	}
}

// CleanText trims surrounding space; an empty or junk-only value is "".
func CleanText(v string) string {
	s := strings.TrimSpace(v)
	switch strings.ToLower(s) {
	case "null", "undefined":
		return ""
	}
	return s
}

// PhonePlus restores the '+' of an international number sent as bare
// digits (Webflow posts a phone field as the JSON number 353871234567): it
// returns "+<digits>" when that is a valid number and region is unknown, or
// the digits are no valid national number of region, or they are region's
// own calling code followed by a number of region. Anything else (a '+', a
// trunk 0, letters, an invalid number) comes back unchanged for the usual
// national reading.
func PhonePlus(raw, region string) string {
	s := strings.TrimSpace(raw)
	var digits strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return s
		}
	}
	d := digits.String()
	if d == "" || d[0] == '0' {
		return s
	}
	intl, ok := NormalizePhone("+"+d, "")
	if !ok {
		return s
	}
	if region == "" || intl.Country == strings.ToUpper(region) {
		return intl.E164
	}
	if _, ok := NormalizePhone(s, region); !ok {
		return intl.E164
	}
	return s
}
