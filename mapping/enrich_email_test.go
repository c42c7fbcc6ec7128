package mapping

import (
	"strings"
	"testing"
)

func TestEmailFactsOf(t *testing.T) {
	tests := []struct {
		name  string
		email string
		want  EmailFacts
	}{
		{"a business address names its company", "ana@acme.com.br",
			EmailFacts{Domain: "acme.com.br", CompanyDomain: "acme.com.br"}},
		{"a gmail address is free mail and names no company", "ana@gmail.com",
			EmailFacts{Domain: "gmail.com", FreeMail: true}},
		{"a country domain of a free-mail provider on the list is free mail", "ana@yahoo.co.uk",
			EmailFacts{Domain: "yahoo.co.uk", FreeMail: true}},
		{"a Brazilian free-mail provider is free mail", "ana@uol.com.br",
			EmailFacts{Domain: "uol.com.br", FreeMail: true}},
		{"a Polish free-mail provider is free mail", "ana@wp.pl",
			EmailFacts{Domain: "wp.pl", FreeMail: true}},
		{"an unlisted subdomain of a free-mail domain is not free mail", "ana@mail.yahoo.co.uk",
			EmailFacts{Domain: "mail.yahoo.co.uk", CompanyDomain: "mail.yahoo.co.uk"}},
		{"a company subdomain is kept whole as the company domain", "ana@eu.acme.com",
			EmailFacts{Domain: "eu.acme.com", CompanyDomain: "eu.acme.com"}},
		{"a company whose name contains a free-mail domain is a company", "ana@gmail.com.acme.io",
			EmailFacts{Domain: "gmail.com.acme.io", CompanyDomain: "gmail.com.acme.io"}},
		{"a disposable domain is disposable, and free mail on the free list too", "x@mailinator.com",
			EmailFacts{Domain: "mailinator.com", FreeMail: true, Disposable: true}},
		{"a subdomain of a disposable domain is disposable", "x@inbox.mailinator.com",
			EmailFacts{Domain: "inbox.mailinator.com", Disposable: true}},
		{"a domain that merely ends with a disposable name is not disposable", "x@acme-mailinator.com",
			EmailFacts{Domain: "acme-mailinator.com", CompanyDomain: "acme-mailinator.com"}},
		{"a role mailbox is a role address", "info@acme.com",
			EmailFacts{Domain: "acme.com", CompanyDomain: "acme.com", RoleAddress: true}},
		{"a +tag is ignored when reading the role", "sales+emea@acme.com",
			EmailFacts{Domain: "acme.com", CompanyDomain: "acme.com", RoleAddress: true}},
		{"a +tag on a person's address leaves a person", "ana+news@gmail.com",
			EmailFacts{Domain: "gmail.com", FreeMail: true}},
		{"a no-reply sender is a role address", "no-reply@acme.com",
			EmailFacts{Domain: "acme.com", CompanyDomain: "acme.com", RoleAddress: true}},
		{"a Portuguese role mailbox is a role address", "contato@empresa.com.br",
			EmailFacts{Domain: "empresa.com.br", CompanyDomain: "empresa.com.br", RoleAddress: true}},
		{"a role mailbox at a free-mail provider is both", "support@outlook.com",
			EmailFacts{Domain: "outlook.com", FreeMail: true, RoleAddress: true}},
		{"initials that spell a role word are a person", "h.r@acme.com",
			EmailFacts{Domain: "acme.com", CompanyDomain: "acme.com"}},
		{"a role word inside a longer local part is a person", "infolinda@acme.com",
			EmailFacts{Domain: "acme.com", CompanyDomain: "acme.com"}},
		{"a bare +tag local part is no role", "+sales@acme.com",
			EmailFacts{Domain: "acme.com", CompanyDomain: "acme.com"}},
		{"an IDN domain in Unicode is kept as sent", "józef@wróbel.pl",
			EmailFacts{Domain: "wróbel.pl", CompanyDomain: "wróbel.pl"}},
		{"an IDN domain in punycode is kept as sent", "jozef@xn--wrbel-1ta.pl",
			EmailFacts{Domain: "xn--wrbel-1ta.pl", CompanyDomain: "xn--wrbel-1ta.pl"}},
		{"a trailing dot is dropped from the domain", "ana@gmail.com.",
			EmailFacts{Domain: "gmail.com", FreeMail: true}},
		{"the domain is the part after the last '@'", "a@b@acme.com",
			EmailFacts{Domain: "acme.com", CompanyDomain: "acme.com"}},
		{"an address that skipped normalization is still read lowercase", "INFO@GMAIL.COM",
			EmailFacts{Domain: "gmail.com", FreeMail: true, RoleAddress: true}},
		{"empty input has no facts", "", EmailFacts{}},
		{"a value without '@' has no facts", "acme.com", EmailFacts{}},
		{"an address without a domain has no facts", "ana@", EmailFacts{}},
		{"a lone trailing dot is no domain", "ana@.", EmailFacts{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EmailFactsOf(tt.email); got != tt.want {
				t.Errorf("EmailFactsOf(%q) = %+v, want %+v", tt.email, got, tt.want)
			}
		})
	}
}

func TestEmailFactsOfNormalizedInput(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want EmailFacts
	}{
		{"uppercase is normalized away before the facts are read", "  Sales+EU@Gmail.COM ",
			EmailFacts{Domain: "gmail.com", FreeMail: true, RoleAddress: true}},
		{"a mailto: link yields the facts of its address", "mailto:Ana@Acme.IO",
			EmailFacts{Domain: "acme.io", CompanyDomain: "acme.io"}},
		{"junk normalizes to empty and has no facts", "noemail@example.com", EmailFacts{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EmailFactsOf(NormalizeEmail(tt.raw)); got != tt.want {
				t.Errorf("EmailFactsOf(NormalizeEmail(%q)) = %+v, want %+v", tt.raw, got, tt.want)
			}
		})
	}
}

// TestEmailDomainListsAreClean guards the shipped lists' format: a header
// naming the source, then lowercase domains, sorted and unique.
func TestEmailDomainListsAreClean(t *testing.T) {
	lists := []struct {
		name   string
		text   string
		source string
	}{
		{"the free-mail list is clean", freeEmailDomainsText, "free-email-domains"},
		{"the disposable list is clean", disposableEmailDomainsText, "disposable-email-domains-js"},
	}
	for _, l := range lists {
		t.Run(l.name, func(t *testing.T) {
			if len(l.text) >= 1<<20 {
				t.Errorf("list is %d bytes, budget is 1 MiB", len(l.text))
			}
			first, _, _ := strings.Cut(l.text, "\n")
			if !strings.HasPrefix(first, "# Source: npm package "+l.source+" ") || !strings.Contains(first, "license") {
				t.Errorf("first line %q must name the source package, its version and its license", first)
			}
			prev, n, inHeader := "", 0, true
			for i, line := range strings.Split(strings.TrimSuffix(l.text, "\n"), "\n") {
				if strings.HasPrefix(line, "#") {
					if !inHeader {
						t.Errorf("line %d: comment after the first domain", i+1)
					}
					continue
				}
				inHeader = false
				switch {
				case line == "":
					t.Errorf("line %d: blank", i+1)
				case line != strings.ToLower(strings.TrimSpace(line)):
					t.Errorf("line %d: %q is not trimmed lowercase", i+1, line)
				case !strings.Contains(line, ".") || strings.HasSuffix(line, ".") || strings.HasPrefix(line, "."):
					t.Errorf("line %d: %q is not a domain", i+1, line)
				case line <= prev:
					t.Errorf("line %d: %q is not after %q: not sorted or not unique", i+1, line, prev)
				}
				prev = line
				n++
			}
			if n < 1000 {
				t.Errorf("only %d domains: the list looks truncated", n)
			}
		})
	}
}

func TestRoleMailboxesAreBareLowercaseLocalParts(t *testing.T) {
	for role := range roleMailboxes {
		if role == "" || role != strings.ToLower(role) || strings.ContainsAny(role, "@+ ") {
			t.Errorf("role mailbox %q must be a bare lowercase local part", role)
		}
	}
}

func FuzzEmailFactsOf(f *testing.F) {
	for _, s := range []string{"", "ana@gmail.com", "sales+x@acme.com", "a@b@c.d.", "@", "x@.", "józef@wróbel.pl", "x@a.b.mailinator.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, email string) {
		got := EmailFactsOf(email)
		if got.Domain == "" && got != (EmailFacts{}) {
			t.Fatalf("facts without a domain: %+v", got)
		}
		if got.CompanyDomain != "" && (got.CompanyDomain != got.Domain || got.FreeMail || got.Disposable) {
			t.Fatalf("company domain %q for %+v", got.CompanyDomain, got)
		}
		if got.Domain != "" && got.CompanyDomain == "" && !got.FreeMail && !got.Disposable {
			t.Fatalf("business domain lost: %+v", got)
		}
	})
}

// BenchmarkEmailFactsOf reads the facts of a mix of business, free-mail,
// role and disposable addresses (the domain sets are built before timing).
func BenchmarkEmailFactsOf(b *testing.B) {
	emails := []string{"ana.lima@acme.com.br", "ana+news@gmail.com", "sales@acme.com", "x@inbox.mailinator.com"}
	EmailFactsOf(emails[0])
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		EmailFactsOf(emails[i%len(emails)])
		i++
	}
}
