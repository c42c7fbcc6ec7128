package mapping

import (
	"strings"
	"sync"
	"unicode"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/nyaruka/phonenumbers"
)

// countryNames maps common English country names (lowercase) to ISO codes,
// for sources that send "Poland" where a region code is needed.
var countryNames = map[string]string{
	"argentina": "AR", "australia": "AU", "austria": "AT", "belgium": "BE", "brazil": "BR", "brasil": "BR",
	"canada": "CA", "chile": "CL", "china": "CN", "colombia": "CO", "czech republic": "CZ", "czechia": "CZ",
	"denmark": "DK", "egypt": "EG", "finland": "FI", "france": "FR", "germany": "DE", "greece": "GR",
	"hong kong": "HK", "hungary": "HU", "india": "IN", "indonesia": "ID", "ireland": "IE", "israel": "IL",
	"italy": "IT", "japan": "JP", "kenya": "KE", "malaysia": "MY", "mexico": "MX", "méxico": "MX",
	"netherlands": "NL", "the netherlands": "NL", "new zealand": "NZ", "nigeria": "NG", "norway": "NO",
	"peru": "PE", "philippines": "PH", "poland": "PL", "polska": "PL", "portugal": "PT", "romania": "RO",
	"saudi arabia": "SA", "singapore": "SG", "south africa": "ZA", "south korea": "KR", "korea": "KR",
	"spain": "ES", "españa": "ES", "sweden": "SE", "switzerland": "CH", "taiwan": "TW", "thailand": "TH",
	"turkey": "TR", "türkiye": "TR", "ukraine": "UA", "united arab emirates": "AE", "uae": "AE",
	"united kingdom": "GB", "uk": "GB", "great britain": "GB", "england": "GB", "united states": "US",
	"united states of america": "US", "usa": "US", "us": "US", "vietnam": "VN", "deutschland": "DE",
}

// CountryCode returns the ISO 3166 alpha-2 code for an ISO code, a common
// country name (English or the country's own: "Deutschland", "Brasil"), or
// any country's English name in CLDR ("Côte d’Ivoire"); "" when unknown.
func CountryCode(v string) string {
	s := strings.TrimSpace(v)
	if len(s) == 2 {
		up := strings.ToUpper(s)
		if phonenumbers.GetCountryCodeForRegion(up) != 0 {
			return up
		}
	}
	key := strings.ToLower(s)
	if c, ok := countryNames[key]; ok {
		return c
	}
	return cldrCountries()[strings.NewReplacer("’", "'", ".", "").Replace(key)]
}

// cldrCountries maps every country's English CLDR name (lowercase,
// "’" as "'", dots dropped) to its code; built once, on first use.
var cldrCountries = sync.OnceValue(func() map[string]string {
	names := display.English.Regions()
	out := map[string]string{}
	norm := strings.NewReplacer("’", "'", ".", "")
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			code := string([]rune{a, b})
			r, err := language.ParseRegion(code)
			if err != nil || !r.IsCountry() {
				continue
			}
			if n := names.Name(r); n != "" {
				out[norm.Replace(strings.ToLower(n))] = code
			}
		}
	}
	return out
})

// languageRegions are languages spoken natively in essentially one
// country: a bare "ja" locale reads national phone numbers as Japanese.
// Languages of several countries (en, pt, es, fr, de, zh, ar…) are absent.
var languageRegions = map[string]string{
	"ja": "JP", "ko": "KR", "th": "TH", "vi": "VN", "he": "IL", "el": "GR", "pl": "PL", "cs": "CZ",
	"hu": "HU", "tr": "TR", "uk": "UA", "sv": "SE", "da": "DK", "fi": "FI", "nb": "NO", "nn": "NO",
	"no": "NO", "id": "ID", "ro": "RO", "bg": "BG", "hr": "HR", "sk": "SK", "sl": "SI", "et": "EE",
	"lv": "LV", "lt": "LT", "is": "IS", "ka": "GE", "hy": "AM", "km": "KH", "lo": "LA", "my": "MM",
}

// LocaleRegion returns the region of a locale or language label: "pt-BR",
// "pt_BR", "zh-Hant-TW" → BR, BR, TW; "Português (Brasil)" → BR; a bare
// language of one country ("ja") → JP. Other bare languages ("pt", "en")
// name no region and give "".
func LocaleRegion(v string) string {
	s := strings.TrimSpace(v)
	if i := strings.IndexByte(s, '('); i >= 0 {
		if j := strings.LastIndexByte(s, ')'); j > i {
			return CountryCode(s[i+1 : j])
		}
	}
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' })
	for i := 1; i < len(parts); i++ {
		p := parts[i]
		if len(p) == 2 && unicode.IsLetter(rune(p[0])) && unicode.IsLetter(rune(p[1])) {
			return CountryCode(p)
		}
	}
	if len(parts) == 1 {
		return languageRegions[strings.ToLower(parts[0])]
	}
	return ""
}

// ScriptRegion returns the region a text's writing system points to: Kana
// → JP, Hangul → KR, Thai → TH, Hebrew → IL, Greek → GR, Georgian → GE,
// Armenian → AM, Khmer → KH, Lao → LA. Scripts of many countries (Latin,
// Cyrillic, Arabic, Han alone) give "". It is a last resort for reading a
// national phone number when a payload names no country.
func ScriptRegion(v string) string {
	for _, sr := range scriptRegions {
		for _, r := range v {
			if unicode.Is(sr.table, r) {
				return sr.region
			}
		}
	}
	return ""
}

var scriptRegions = []struct {
	table  *unicode.RangeTable
	region string
}{
	{unicode.Hiragana, "JP"}, {unicode.Katakana, "JP"}, {unicode.Hangul, "KR"}, {unicode.Thai, "TH"},
	{unicode.Hebrew, "IL"}, {unicode.Greek, "GR"}, {unicode.Georgian, "GE"}, {unicode.Armenian, "AM"},
	{unicode.Khmer, "KH"}, {unicode.Lao, "LA"},
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
