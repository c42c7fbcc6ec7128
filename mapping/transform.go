package mapping

import (
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// transformFunc turns one value into another; "" means absent. An error
// means the request carries a value that is bad input (an NPS of 11), and
// the request is quarantined with the reason.
type transformFunc func(v string, ctx *transformCtx) (string, error)

type transformCtx struct {
	region string
}

var transforms = map[string]transformFunc{
	"trim":       func(v string, _ *transformCtx) (string, error) { return CleanText(v), nil },
	"lowercase":  func(v string, _ *transformCtx) (string, error) { return strings.ToLower(v), nil },
	"uppercase":  func(v string, _ *transformCtx) (string, error) { return strings.ToUpper(v), nil },
	"email":      func(v string, _ *transformCtx) (string, error) { return NormalizeEmail(v), nil },
	"phone":      phoneTransform,
	"first_name": func(v string, _ *transformCtx) (string, error) { f, _ := SplitName(v); return f, nil },
	"last_name":  func(v string, _ *transformCtx) (string, error) { _, l := SplitName(v); return l, nil },
	"number":     numberTransform,
	"int":        intTransform,
	"epoch_ms":   func(v string, _ *transformCtx) (string, error) { return epoch(v, time.Millisecond) },
	"epoch_s":    func(v string, _ *transformCtx) (string, error) { return epoch(v, time.Second) },
	"time":       timeTransform,
	"bool":       boolTransform,
	"nps":        func(v string, _ *transformCtx) (string, error) { return scale(v, "NPS", 0, 10) },
	"csat":       func(v string, _ *transformCtx) (string, error) { return scale(v, "CSAT", 1, 5) },
	"domain":     domainTransform,
	"nps_category": func(v string, _ *transformCtx) (string, error) {
		s, err := scale(v, "NPS", 0, 10)
		if err != nil || s == "" {
			return s, err
		}
		return NPSCategory(s), nil
	},
	"phone_plus": func(v string, ctx *transformCtx) (string, error) { return PhonePlus(v, ctx.region), nil },
	"country_of": func(v string, ctx *transformCtx) (string, error) { return CountryOf(v, ctx.region), nil },
	"given_name": func(v string, ctx *transformCtx) (string, error) {
		g, _ := SplitNameLocal(v, ctx.region)
		return g, nil
	},
	"family_name": func(v string, ctx *transformCtx) (string, error) {
		_, f := SplitNameLocal(v, ctx.region)
		return f, nil
	},
}

// NPSCategory classifies a valid 0–10 score: promoter (9–10), passive
// (7–8) or detractor (0–6).
func NPSCategory(score string) string {
	n, _ := strconv.Atoi(score)
	switch {
	case n >= 9:
		return "promoter"
	case n >= 7:
		return "passive"
	default:
		return "detractor"
	}
}

// Transforms lists the transform names a spec may use.
func Transforms() []string {
	names := make([]string, 0, len(transforms))
	for k := range transforms {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func phoneTransform(v string, ctx *transformCtx) (string, error) {
	p, ok := NormalizePhone(v, ctx.region)
	if !ok {
		return "", nil
	}
	return p.E164, nil
}

func numberTransform(v string, _ *transformCtx) (string, error) {
	s := strings.TrimSpace(v)
	if s == "" {
		return "", nil
	}
	if _, ok := new(big.Float).SetString(s); !ok {
		return "", fmt.Errorf("%q is not a number", truncate(s, 40))
	}
	return s, nil
}

func intTransform(v string, _ *transformCtx) (string, error) {
	s := strings.TrimSpace(v)
	if s == "" {
		return "", nil
	}
	if _, err := strconv.ParseInt(s, 10, 64); err != nil {
		// "10.0" is an integer written as a float.
		f, ok := new(big.Float).SetString(s)
		if !ok || !f.IsInt() {
			return "", fmt.Errorf("%q is not an integer", truncate(s, 40))
		}
		i, _ := f.Int64()
		return strconv.FormatInt(i, 10), nil
	}
	return s, nil
}

func scale(v, name string, lo, hi int64) (string, error) {
	s, err := intTransform(v, nil)
	if err != nil || s == "" {
		return s, err
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	if n < lo || n > hi {
		return "", fmt.Errorf("%s score %d is outside its scale %d..%d", name, n, lo, hi)
	}
	return s, nil
}

func epoch(v string, unit time.Duration) (string, error) {
	s := strings.TrimSpace(v)
	if s == "" {
		return "", nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%q is not an epoch timestamp", truncate(s, 40))
	}
	var t time.Time
	if unit == time.Millisecond {
		t = time.UnixMilli(n)
	} else {
		t = time.Unix(n, 0)
	}
	return t.UTC().Format(time.RFC3339Nano), nil
}

var timeLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05Z0700",
	"2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02", time.RFC1123Z, time.RFC1123,
}

func timeTransform(v string, _ *transformCtx) (string, error) {
	s := strings.TrimSpace(v)
	if s == "" {
		return "", nil
	}
	// Epoch numbers: seconds or milliseconds by magnitude.
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > 1e11 {
			return epoch(s, time.Millisecond)
		}
		return epoch(s, time.Second)
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Format(time.RFC3339Nano), nil
		}
	}
	return "", fmt.Errorf("%q is not a recognized date/time", truncate(s, 40))
}

func boolTransform(v string, _ *transformCtx) (string, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "":
		return "", nil
	case "true", "1", "yes", "y", "on", "checked":
		return "true", nil
	case "false", "0", "no", "n", "off":
		return "false", nil
	}
	return "", fmt.Errorf("%q is not a boolean", truncate(v, 40))
}

func domainTransform(v string, _ *transformCtx) (string, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		return s[at+1:], nil
	}
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		return strings.TrimPrefix(u.Hostname(), "www."), nil
	}
	return strings.TrimPrefix(s, "www."), nil
}

// typedValue gives a property its JSON type from its last transform:
// numbers stay exact (json.Number), booleans become bool.
func typedValue(v string, ts []string) any {
	if len(ts) == 0 {
		return v
	}
	switch ts[len(ts)-1] {
	case "number", "int", "nps", "csat":
		return json.Number(v)
	case "bool":
		return v == "true"
	}
	return v
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

// CountryOf returns the ISO code of a country code or common country name,
// else the country of a valid phone number (national numbers read in
// region), else "". It lets a name or phone take its region from whichever
// of a country field or a phone number a form has.
func CountryOf(v, region string) string {
	if c := CountryCode(v); c != "" {
		return c
	}
	if p, ok := NormalizePhone(v, region); ok {
		return p.Country
	}
	return ""
}

// familyFirstRegions write the family name first also in Latin script
// ("Nguyễn Thị Hoa", "Hun Sen").
var familyFirstRegions = map[string]bool{"VN": true, "KH": true}

// SplitNameLocal splits a full name into given and family name: the first
// word and the rest ("Maria da Silva" → "Maria", "da Silva"), or the
// reverse for a name written in Han, Hangul or Kana (山田 太郎) or read in a
// family-name-first region (VN, KH). A single word is a given name.
func SplitNameLocal(full, region string) (given, family string) {
	first, rest := SplitName(full)
	if rest == "" {
		return first, ""
	}
	if familyFirstRegions[strings.ToUpper(region)] || hasCJK(full) {
		return rest, first
	}
	return first, rest
}

func hasCJK(s string) bool {
	for _, r := range s {
		if unicode.In(r, unicode.Han, unicode.Hangul, unicode.Hiragana, unicode.Katakana) {
			return true
		}
	}
	return false
}
