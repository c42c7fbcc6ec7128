package mapping

import (
	_ "embed"
	"strings"
	"sync"
)

// EmailFacts are what an email address says about its owner, for fit scoring
// and company matching (DOMAIN.md, Scores: business email +10, free-mail −10).
type EmailFacts struct {
	// Domain is the part after the last '@', lowercase, without a trailing
	// dot. An internationalized domain is kept as sent (Unicode or
	// punycode: neither is converted into the other).
	Domain string
	// CompanyDomain is Domain when it can name the person's company: ""
	// for free-mail and disposable domains.
	CompanyDomain string
	// FreeMail: Domain itself is on the shipped free-mail list
	// (data/free_email_domains.txt). A subdomain of a listed domain counts
	// only if it is listed too. That list also carries many disposable
	// domains, so a disposable address is usually FreeMail as well.
	FreeMail bool
	// RoleAddress: the local part, +tag ignored, is a shared role mailbox
	// (info@, sales@, noreply@, …) rather than one person's.
	RoleAddress bool
	// Disposable: Domain or one of its parent domains is on the shipped
	// disposable-mail list (data/disposable_email_domains.txt), whose
	// entries stand for all their subdomains.
	Disposable bool
}

//go:embed data/free_email_domains.txt
var freeEmailDomainsText string

//go:embed data/disposable_email_domains.txt
var disposableEmailDomainsText string

// The lists are parsed into sets on first use, not at package init, so
// importers of mapping that never enrich an email do not pay for them.
var (
	freeEmailDomains       = sync.OnceValue(func() map[string]struct{} { return domainSet(freeEmailDomainsText) })
	disposableEmailDomains = sync.OnceValue(func() map[string]struct{} { return domainSet(disposableEmailDomainsText) })
)

// domainSet reads an embedded list: one domain a line, '#' lines are
// comments, blank lines are skipped.
func domainSet(text string) map[string]struct{} {
	set := make(map[string]struct{}, strings.Count(text, "\n"))
	for line := range strings.Lines(text) {
		d := strings.TrimSpace(line)
		if d == "" || d[0] == '#' {
			continue
		}
		set[d] = struct{}{}
	}
	return set
}

// roleMailboxes are local parts that name a function, not a person: the
// mailboxes of RFC 2142 (info, sales, support, abuse, postmaster, …), the
// no-reply and department addresses that email-verification services flag as
// "role", and their common Portuguese, Spanish, German, French and Polish
// forms (CycleHub's first tenants are in Brazil and Poland). Compared
// exactly against the lowercased local part without its +tag: separators
// are not folded, so "h.r@" (initials) is a person while "hr@" is not.
var roleMailboxes = map[string]struct{}{
	// RFC 2142 and the usual business mailboxes.
	"abuse": {}, "accounting": {}, "accounts": {}, "admin": {}, "administrator": {},
	"all": {}, "billing": {}, "bookings": {}, "booking": {}, "careers": {}, "career": {},
	"community": {}, "compliance": {}, "contact": {}, "contactus": {}, "contact-us": {},
	"contact.us": {}, "customercare": {}, "customerservice": {}, "customer.service": {},
	"customer-service": {}, "customer_service": {}, "customersupport": {}, "dev": {},
	"devnull": {}, "dpo": {}, "enquiries": {}, "enquiry": {}, "events": {}, "everyone": {},
	"feedback": {}, "finance": {}, "ftp": {}, "gdpr": {}, "hello": {}, "help": {},
	"helpdesk": {}, "hi": {}, "hostmaster": {}, "hr": {}, "info": {}, "information": {},
	"inquiries": {}, "inquiry": {}, "investors": {}, "ir": {}, "it": {}, "jobs": {},
	"legal": {}, "mailer-daemon": {}, "marketing": {}, "media": {}, "newsletter": {},
	"news": {}, "noc": {}, "notifications": {}, "office": {}, "ops": {}, "orders": {},
	"partners": {}, "partnerships": {}, "payments": {}, "postmaster": {}, "pr": {},
	"press": {}, "privacy": {}, "procurement": {}, "purchasing": {}, "reception": {},
	"recruiting": {}, "recruitment": {}, "returns": {}, "root": {}, "sales": {},
	"security": {}, "service": {}, "services": {}, "shop": {}, "staff": {}, "store": {},
	"support": {}, "sysadmin": {}, "team": {}, "tech": {}, "unsubscribe": {},
	"usenet": {}, "uucp": {}, "webmaster": {}, "welcome": {}, "www": {},
	// No-reply senders, in their usual spellings.
	"noreply": {}, "no-reply": {}, "no_reply": {}, "no.reply": {}, "donotreply": {},
	"do-not-reply": {}, "do_not_reply": {}, "do.not.reply": {},
	// Portuguese and Spanish.
	"atendimento": {}, "comercial": {}, "contato": {}, "contacto": {}, "financeiro": {},
	"faturamento": {}, "rh": {}, "suporte": {}, "soporte": {}, "vendas": {}, "ventas": {},
	"ouvidoria": {}, "sac": {}, "cobranca": {}, "compras": {}, "juridico": {},
	// German, French and Polish.
	"kontakt": {}, "vertrieb": {}, "buchhaltung": {}, "bonjour": {}, "biuro": {},
	"sekretariat": {}, "rekrutacja": {}, "sprzedaz": {}, "pomoc": {},
}

// EmailFactsOf returns the facts of an already-normalized address (see
// NormalizeEmail). It is total: an empty value, or one with no '@' or no
// domain, gives the zero EmailFacts. The domain is lowercased and a trailing
// dot dropped even if normalization was skipped.
func EmailFactsOf(email string) EmailFacts {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return EmailFacts{}
	}
	domain := strings.TrimSuffix(strings.TrimSpace(email[at+1:]), ".")
	if domain == "" {
		return EmailFacts{}
	}
	domain = strings.ToLower(domain) // no copy when already lowercase
	f := EmailFacts{
		Domain:      domain,
		FreeMail:    isFreeMailDomain(domain),
		Disposable:  isDisposableDomain(domain),
		RoleAddress: isRoleMailbox(email[:at]),
	}
	if !f.FreeMail && !f.Disposable {
		f.CompanyDomain = domain
	}
	return f
}

func isFreeMailDomain(domain string) bool {
	_, ok := freeEmailDomains()[domain]
	return ok
}

// isDisposableDomain checks domain and each parent domain down to two
// labels: the disposable list names registrable domains and stands for all
// their subdomains (x.y.mailinator.com is mailinator.com). A bare top-level
// label is never looked up.
func isDisposableDomain(domain string) bool {
	set := disposableEmailDomains()
	for d := domain; strings.Contains(d, "."); {
		if _, ok := set[d]; ok {
			return true
		}
		_, d, _ = strings.Cut(d, ".")
	}
	return false
}

// isRoleMailbox reports whether local (the part before '@') is a role
// mailbox, ignoring a +tag ("sales+eu" is "sales").
func isRoleMailbox(local string) bool {
	local, _, _ = strings.Cut(strings.TrimSpace(local), "+")
	if local == "" {
		return false
	}
	_, ok := roleMailboxes[strings.ToLower(local)]
	return ok
}
