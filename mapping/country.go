package mapping

import (
	"strings"

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

// CountryCode returns the ISO 3166 alpha-2 code for an ISO code or a common
// country name, or "" when unknown.
func CountryCode(v string) string {
	s := strings.TrimSpace(v)
	if len(s) == 2 {
		up := strings.ToUpper(s)
		if phonenumbers.GetCountryCodeForRegion(up) != 0 {
			return up
		}
	}
	return countryNames[strings.ToLower(s)]
}
