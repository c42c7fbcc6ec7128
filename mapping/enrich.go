package mapping

import "strconv"

// Enrich adds what an event's identifiers and touch tell by themselves
// (DESIGN.md §1.4), as traits and the touch's channel:
//
//	email_domain, company_domain (not for free-mail or disposable
//	domains), email_is_free, email_is_role, email_is_disposable;
//	phone_country, phone_type (mobile, fixed_line, … when known).
//
// A value the payload itself gave (a company_domain field) is kept.
func Enrich(ev *Event) {
	if ev.Traits == nil {
		ev.Traits = map[string]string{}
	}
	set := func(k, v string) {
		if _, given := ev.Traits[k]; !given && v != "" {
			ev.Traits[k] = v
		}
	}
	for _, id := range ev.Identities {
		switch id.Type {
		case IdentityEmail:
			f := EmailFactsOf(id.Value)
			set("email_domain", f.Domain)
			set("company_domain", f.CompanyDomain)
			set("email_is_free", strconv.FormatBool(f.FreeMail))
			set("email_is_role", strconv.FormatBool(f.RoleAddress))
			set("email_is_disposable", strconv.FormatBool(f.Disposable))
		case IdentityPhone:
			p, ok := ev.phones[id.Value]
			if !ok {
				p, ok = NormalizePhone(id.Value, "")
			}
			if ok {
				set("phone_country", p.Country)
				set("phone_type", p.Type)
			}
		}
	}
	if ev.Attribution != nil && ev.Attribution.Channel == "" {
		ev.Attribution.Channel = Channel(ev.Attribution)
	}
}
