package mapping

import (
	"strings"
	"unicode"
)

// familyFirstRegions write the family name first also in Latin script
// ("Nguyễn Thị Hoa", "Hun Sen").
var familyFirstRegions = map[string]bool{"VN": true, "KH": true}

// surnameParticles start a family name: "Maria da Conceição Souza" →
// "Maria", "da Conceição Souza"; "Aoife Ní Bhriain" → "Aoife", "Ní Bhriain".
var surnameParticles = map[string]bool{
	"da": true, "das": true, "de": true, "del": true, "della": true, "der": true, "des": true, "di": true,
	"do": true, "dos": true, "du": true, "la": true, "le": true, "van": true, "von": true, "den": true,
	"ter": true, "ten": true, "bin": true, "binti": true, "ibn": true, "al": true, "el": true,
	"ní": true, "nic": true, "ó": true, "ua": true, "uí": true,
}

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

// SplitNameSurname splits a full name into given names and family name.
// The family name starts at the first particle (da, de, van, Ní…) after the
// first word, or else is the last word: "João Pedro Araújo" → "João Pedro",
// "Araújo". Names written family-first (Han, Hangul, Kana; VN, KH) are split
// as SplitNameLocal does. A single word is a given name, except a Korean
// name written without a space ("김민준" → "민준", "김").
func SplitNameSurname(full, region string) (given, family string) {
	fields := strings.Fields(full)
	switch {
	case len(fields) == 0:
		return "", ""
	case len(fields) == 1:
		return splitHangul(fields[0])
	case familyFirstRegions[strings.ToUpper(region)] || hasCJK(full):
		return SplitNameLocal(full, region)
	}
	for i := 1; i < len(fields)-1; i++ {
		if surnameParticles[strings.ToLower(fields[i])] {
			return strings.Join(fields[:i], " "), strings.Join(fields[i:], " ")
		}
	}
	return strings.Join(fields[:len(fields)-1], " "), fields[len(fields)-1]
}

func hasCJK(s string) bool {
	for _, r := range s {
		if unicode.In(r, unicode.Han, unicode.Hangul, unicode.Hiragana, unicode.Katakana) {
			return true
		}
	}
	return false
}

// koreanCompoundSurnames are the two-syllable family names.
var koreanCompoundSurnames = map[string]bool{
	"남궁": true, "선우": true, "제갈": true, "황보": true, "독고": true, "사공": true, "서문": true, "동방": true,
}

// splitHangul splits an unspaced Korean name of 2–4 syllables: the family
// name is its first syllable (two for the compound surnames). Anything
// else is a given name, unsplit.
func splitHangul(name string) (given, family string) {
	r := []rune(name)
	if len(r) < 2 || len(r) > 4 {
		return name, ""
	}
	for _, c := range r {
		if !unicode.Is(unicode.Hangul, c) {
			return name, ""
		}
	}
	n := 1
	if len(r) >= 3 && koreanCompoundSurnames[string(r[:2])] {
		n = 2
	}
	return string(r[n:]), string(r[:n])
}
