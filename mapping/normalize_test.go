package mapping

import "testing"

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"an address is trimmed and lowercased whole", "  Ana.Lima@Example.COM \t", "ana.lima@example.com"},
		{"dots in the local part are kept", "a.n.a@example.com", "a.n.a@example.com"},
		{"a +tag is kept, never merged into the bare address", "Ana+News@example.com", "ana+news@example.com"},
		{"a mailto: link is reduced to the address", "mailto:Ana@Example.com", "ana@example.com"},
		{"a subdomain and a long TLD are fine", "ops@mail.example.com.br", "ops@mail.example.com.br"},
		{"non-ASCII addresses are kept (lowercased)", "Józef@Wróbel.PL", "józef@wróbel.pl"},
		{"empty is empty", "", ""},
		{"blank is empty", "   ", ""},
		{"'null' is junk", "null", ""},
		{"'undefined' is junk", "Undefined", ""},
		{"'test' is junk", "test", ""},
		{"'n/a' is junk", "N/A", ""},
		{"a known placeholder address is junk", "NoEmail@Example.com", ""},
		{"a missing '@' is invalid", "ana.example.com", ""},
		{"a missing local part is invalid", "@example.com", ""},
		{"a missing domain is invalid", "ana@", ""},
		{"a domain without a dot is invalid", "ana@localhost", ""},
		{"a space inside is invalid", "ana lima@example.com", ""},
		{"two '@' are invalid", "ana@lima@example.com", ""},
		{"a display-name address is not a bare address", "Ana Lima <ana@example.com>", ""},
		{"a trailing comment is not a bare address", "ana@example.com (work)", ""},
		{"a list of addresses is not one address", "a@example.com, b@example.com", ""},
		{"a quoted local part is not kept", `"ana lima"@example.com`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NormalizeEmail(tt.in)
			if got != tt.want {
				t.Errorf("NormalizeEmail(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if again := NormalizeEmail(got); got != "" && again != got {
				t.Errorf("not idempotent: NormalizeEmail(%q) = %q", got, again)
			}
		})
	}
}

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		name   string
		raw    string
		region string
		want   Phone
		ok     bool
	}{
		{"a Polish national mobile uses the default region", "601 234 567", "PL", Phone{"+48601234567", "PL", "mobile"}, true},
		{"the default region may be lower case", "601-234-567", "pl", Phone{"+48601234567", "PL", "mobile"}, true},
		{"a Brazilian mobile in international format needs no region", "+55 11 98765-4321", "", Phone{"+5511987654321", "BR", "mobile"}, true},
		{"an international number ignores a different default region", "+55 (11) 98765-4321", "PL", Phone{"+5511987654321", "BR", "mobile"}, true},
		{"a Brazilian national landline with punctuation uses the region", "(11) 3456-7890", "BR", Phone{"+551134567890", "BR", "fixed_line"}, true},
		{"a '00' international prefix is read as '+'", "0048 601 234 567", "", Phone{"+48601234567", "PL", "mobile"}, true},
		{"a '00' prefix wins over the default region", "0055 11 98765 4321", "PL", Phone{"+5511987654321", "BR", "mobile"}, true},
		{"a UK national number drops its trunk zero", "020 7946 0958", "GB", Phone{"+442079460958", "GB", "fixed_line"}, true},
		{"a toll-free number says so", "0800 123 4567", "GB", Phone{"+448001234567", "GB", "toll_free"}, true},
		{"surrounding space is ignored", "  +48601234567\n", "", Phone{"+48601234567", "PL", "mobile"}, true},
		{"a national number without a region cannot be read", "601 234 567", "", Phone{}, false},
		{"an unknown region cannot read a national number", "601 234 567", "XX", Phone{}, false},
		{"too short is invalid", "123", "PL", Phone{}, false},
		{"too long is invalid", "+48 601 234 567 890 123", "", Phone{}, false},
		{"a number in an unassigned range is invalid", "+1 555 123 4567", "", Phone{}, false},
		{"letters are invalid", "call me", "PL", Phone{}, false},
		{"empty is invalid", "", "PL", Phone{}, false},
		{"'0000' is junk", "0000", "PL", Phone{}, false},
		{"a run of zeros with separators is junk", "+00 (000) 000-0000", "BR", Phone{}, false},
		{"'n/a' is junk", "n/a", "BR", Phone{}, false},
		{"'-1' is junk", "-1", "BR", Phone{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := NormalizePhone(tt.raw, tt.region)
			if got != tt.want || ok != tt.ok {
				t.Errorf("NormalizePhone(%q, %q) = %+v, %v; want %+v, %v", tt.raw, tt.region, got, ok, tt.want, tt.ok)
			}
			if !ok {
				return
			}
			// E.164 reads back as itself with no region: lookups by phone
			// (admin API) find what the mapper stored.
			if again, ok := NormalizePhone(got.E164, ""); !ok || again.E164 != got.E164 {
				t.Errorf("not idempotent: NormalizePhone(%q) = %+v, %v", got.E164, again, ok)
			}
		})
	}
}

func TestIsJunk(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"empty is junk", "", true},
		{"blank is junk", " \t ", true},
		{"'null' in any case is junk", "NULL", true},
		{"'undefined' is junk", "undefined", true},
		{"'None' is junk", "None", true},
		{"'-1' is junk", "-1", true},
		{"'0' is junk", "0", true},
		{"'anonymous' is junk", "Anonymous", true},
		{"'unknown' is junk", " unknown ", true},
		{"'n/a' is junk", "n/a", true},
		{"'test' is junk", "Test", true},
		{"a lone dash is junk", "-", true},
		{"a placeholder address is junk", "no@email.com", true},
		{"a run of zeros is junk", "0000", true},
		{"zeros with phone punctuation are junk", "(000) 000-0000", true},
		{"zeros with a plus are junk", "+00 000", true},
		{"separators without zeros are not junk (and not an identifier either)", "+-", false},
		{"a real email is not junk", "ana@example.com", false},
		{"a real phone is not junk", "+48 601 234 567", false},
		{"a number with zeros and other digits is not junk", "1000", false},
		{"a word containing 'test' is not junk", "testing@example.com", false},
		{"a name is not junk", "Ana", false},
	}
	for _, tt := range tests {
		if got := IsJunk(tt.in); got != tt.want {
			t.Errorf("%s: IsJunk(%q) = %v, want %v", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestSplitName(t *testing.T) {
	tests := []struct {
		name        string
		full        string
		first, last string
	}{
		{"the first word is the first name, the rest the last name", "Maria da Silva", "Maria", "da Silva"},
		{"two words split in two", "Ana Lima", "Ana", "Lima"},
		{"one word is a first name only", "Cher", "Cher", ""},
		{"empty gives nothing", "", "", ""},
		{"blank gives nothing", "  \t ", "", ""},
		{"surrounding and repeated spaces are dropped", "  Ana   Lima  ", "Ana", "Lima"},
		{"unicode spaces separate words too", "Ana\u00a0Lima\u3000Souza", "Ana", "Lima Souza"},
		{"non-ASCII letters are kept", "Jürgen Weiß", "Jürgen", "Weiß"},
		{"a compound Irish surname stays whole", "Aoife Ní Bhriain", "Aoife", "Ní Bhriain"},
	}
	for _, tt := range tests {
		first, last := SplitName(tt.full)
		if first != tt.first || last != tt.last {
			t.Errorf("%s: SplitName(%q) = %q, %q; want %q, %q", tt.name, tt.full, first, last, tt.first, tt.last)
		}
	}
}

func TestCleanText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"surrounding space is trimmed", "  Lima Consultoria \n", "Lima Consultoria"},
		{"inner text is kept as sent", "Wróbel & Syn  Sp. z o.o.", "Wróbel & Syn  Sp. z o.o."},
		{"'null' from a JavaScript form is empty", "null", ""},
		{"'undefined' from a JavaScript form is empty", " Undefined ", ""},
		{"blank is empty", "   ", ""},
		{"'0' is a value, not junk, in free text", "0", "0"},
	}
	for _, tt := range tests {
		if got := CleanText(tt.in); got != tt.want {
			t.Errorf("%s: CleanText(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestSplitNameSurname(t *testing.T) {
	tests := []struct {
		name, full, region, given, family string
	}{
		{"the last word is the family name", "João Pedro Araújo", "", "João Pedro", "Araújo"},
		{"a particle starts the family name", "Maria da Conceição Souza", "", "Maria", "da Conceição Souza"},
		{"an Irish particle keeps the surname whole", "Aoife Ní Bhriain", "", "Aoife", "Ní Bhriain"},
		{"a Vietnamese name is family first", "Nguyễn Thị Hoa", "VN", "Thị Hoa", "Nguyễn"},
		{"a spaced Japanese name is family first", "渡辺 健二", "", "健二", "渡辺"},
		{"an unspaced Korean name splits after the first syllable", "김민준", "", "민준", "김"},
		{"a Korean compound surname takes two syllables", "남궁민수", "", "민수", "남궁"},
		{"an unspaced Han name is not guessed", "张伟", "", "张伟", ""},
		{"one word is a given name", "Cher", "", "Cher", ""},
		{"empty gives nothing", "  ", "", "", ""},
	}
	for _, tt := range tests {
		g, f := SplitNameSurname(tt.full, tt.region)
		if g != tt.given || f != tt.family {
			t.Errorf("%s: SplitNameSurname(%q, %q) = %q, %q; want %q, %q", tt.name, tt.full, tt.region, g, f, tt.given, tt.family)
		}
	}
}

func TestRegionsFromLocalesAndScripts(t *testing.T) {
	for in, want := range map[string]string{"pt-BR": "BR", "pt_BR": "BR", "zh-Hant-TW": "TW", "Português (Brasil)": "BR", "ja": "JP", "pt": "", "en": ""} {
		if got := LocaleRegion(in); got != want {
			t.Errorf("LocaleRegion(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"使いやすいです": "JP", "감사합니다": "KR", "ขอบคุณ": "TH", "张伟": "", "Ana": "", "Привет": ""} {
		if got := ScriptRegion(in); got != want {
			t.Errorf("ScriptRegion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSnakeCaseReadsTrackingToolEventNames(t *testing.T) {
	for in, want := range map[string]string{
		"Order Completed": "order_completed", "orderCompleted": "order_completed", "order-completed": "order_completed",
		"deal_won": "deal_won", "  Deal   Won ": "deal_won", "identify": "identify", "NPS 10 given": "nps_10_given", "": "",
		"Ödeme Tamamlandı": "ödeme_tamamlandı",
	} {
		if got := SnakeCase(in); got != want {
			t.Errorf("SnakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}
