package mapping

import (
	"net/url"
	"strings"
)

// UnmappableError says a well-formed request carries nothing CycleHub can
// attach to a person (no usable identifier). The pipeline quarantines it
// with Reason; it can be replayed after a mapping fix.
type UnmappableError struct{ Reason string }

func (e *UnmappableError) Error() string { return "unmappable: " + e.Reason }

// FormOptions configure the generic web-form mapper for one source.
type FormOptions struct {
	// DefaultRegion is the ISO region used to read national phone numbers.
	DefaultRegion string
}

// formAliases maps canonical names to the field names forms use for them.
// Keys are compared after canonicalFieldName.
var formAliases = map[string][]string{
	"email":      {"email", "e_mail", "email_address", "emailaddress", "your_email", "work_email", "mail"},
	"first_name": {"first_name", "firstname", "fname", "given_name", "first"},
	"last_name":  {"last_name", "lastname", "lname", "surname", "family_name", "last"},
	"full_name":  {"name", "full_name", "fullname", "your_name", "contact_name"},
	"phone":      {"phone", "phone_number", "phonenumber", "telephone", "tel", "mobile", "mobile_phone", "cell", "your_phone"},
	"company":    {"company", "company_name", "organization", "organisation", "org"},
	"job_title":  {"job_title", "jobtitle", "title", "position", "role"},
	"country":    {"country", "country_code"},
	"page_url":   {"page_url", "pageurl", "page", "url", "landing_page", "source_url", "page_uri"},
	"message":    {"message", "comments", "comment", "your_message", "enquiry", "inquiry"},
	"referrer":   {"referrer", "referer", "http_referer"},
	// Which form it was (a hidden field): lifecycle rules read it (a demo
	// request form).
	"form_name": {"form_name", "formname"},
	"form_id":   {"form_id", "formid"},
	"user_id":   {"user_id", "userid", "uid"},
	// Who referred the person (the referral loop): the referrer's email,
	// customer id, or user id (a referral code that is the user id).
	"referred_by": {"referred_by", "referredby", "referred_by_email", "referrer_email", "referral_email", "referral_code", "referral"},
	// A marketing opt-in checkbox (an unchecked one is not sent: no choice).
	"consent": {"email_marketing", "marketing_consent", "consent", "opt_in", "optin", "email_opt_in",
		"newsletter", "subscribe", "accepts_marketing", "gdpr_consent"},
}

var attributionKeys = []string{"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "gclid", "fbclid", "li_fat_id"}

// knownFormFields is every canonical field name the form mapper reads.
var knownFormFields = func() map[string]bool {
	known := map[string]bool{}
	for _, aliases := range formAliases {
		for _, a := range aliases {
			known[a] = true
		}
	}
	for _, k := range attributionKeys {
		known[k] = true
	}
	return known
}()

// MapForm maps a plain web-form post (urlencoded, multipart or JSON) into a
// canonical form_submitted event.
func MapForm(req *RawRequest, opts FormOptions) (*Event, error) {
	fields, err := ParseFormBody(req.Header("Content-Type"), req.Body)
	if err != nil {
		return nil, err
	}
	idx := indexFields(fields)
	pick := func(name string) string {
		for _, alias := range formAliases[name] {
			if v, ok := idx[alias]; ok && v != "" {
				return v
			}
		}
		return ""
	}

	ev := &Event{
		Source:     req.Source,
		Provider:   req.Provider,
		Type:       "form_submitted",
		OccurredAt: req.ReceivedAt.UTC(),
		Traits:     map[string]string{},
		Properties: map[string]any{},
	}

	if uid := CleanText(pick("user_id")); uid != "" && !IsJunk(uid) {
		ev.Identities = append(ev.Identities, Identity{Type: IdentityUserID, Value: uid})
	}
	if email := NormalizeEmail(pick("email")); email != "" {
		ev.Identities = append(ev.Identities, Identity{Type: IdentityEmail, Value: email})
		ev.Traits["email"] = email
	}
	region := opts.DefaultRegion
	if c := pick("country"); len(c) == 2 {
		region = c
	}
	if rawPhone := pick("phone"); rawPhone != "" {
		if p, ok := NormalizePhone(rawPhone, region); ok {
			ev.addPhone(p)
			ev.Traits["phone"] = p.E164
			ev.Traits["phone_country"] = p.Country
		}
		ev.Properties["phone_raw"] = rawPhone
	}

	first, last, full := pick("first_name"), pick("last_name"), pick("full_name")
	if full != "" && first == "" && last == "" {
		first, last = SplitNameSurname(full, region)
	}
	if full == "" && (first != "" || last != "") {
		full = strings.TrimSpace(first + " " + last)
	}
	setTrait(ev.Traits, "first_name", first)
	setTrait(ev.Traits, "last_name", last)
	setTrait(ev.Traits, "full_name", full)
	setTrait(ev.Traits, "company", pick("company"))
	setTrait(ev.Traits, "job_title", pick("job_title"))
	setTrait(ev.Traits, "country", CountryCode(pick("country")))
	setTrait(ev.Traits, "referred_by", pick("referred_by"))

	ev.Attribution = formTouch(idx, pick("page_url"), firstNonEmpty(pick("referrer"), req.Header("Referer")), req)
	for _, k := range []string{"message", "form_name", "form_id"} {
		if v := pick(k); v != "" {
			ev.Properties[k] = v
		}
	}
	if ev.Attribution != nil && ev.Attribution.PageURL != "" {
		ev.Properties["page_url"] = ev.Attribution.PageURL
	}
	if v := pick("consent"); v != "" {
		if b, err := boolTransform(v, nil); err == nil {
			status := ConsentDenied
			if b == "true" {
				status = ConsentGranted
			}
			ev.Consent = []ConsentChoice{{Purpose: "email_marketing", Status: status, Method: "form_checkbox"}}
		}
	}
	addUnmappedFields(ev, fields)

	if len(ev.Identities) == 0 {
		return nil, &UnmappableError{Reason: "form has no valid user id, email or phone field"}
	}
	return ev, nil
}

// indexFields maps canonical field names to their first non-empty value.
// A field's own name wins over a name read inside a nested key, whatever
// their order: "name" beats "contact[name]".
func indexFields(f *Fields) map[string]string {
	idx := make(map[string]string, f.Len())
	set := func(name, v string) {
		if cur, ok := idx[name]; !ok || cur == "" {
			idx[name] = v
		}
	}
	for _, k := range f.Keys() {
		set(canonicalFieldName(k), CleanText(f.Get(k)))
	}
	for _, k := range f.Keys() {
		set(nestedFieldName(k), CleanText(f.Get(k)))
	}
	return idx
}

// nestedFieldName is the name inside a known container for nested keys
// (brackets or JSON paths): "contact[email]", "contact.email" → "email".
// Flat keys are kept whole, so a form's own metadata ("form-name",
// "form_title") is never read as the person's name or title.
func nestedFieldName(k string) string {
	if !strings.ContainsAny(k, "[.") {
		return canonicalFieldName(k)
	}
	return lastSegment(canonicalFieldName(k))
}

// canonicalFieldName lowercases and unifies separators:
// "Contact[E-mail]" → "contact_e_mail", "Email Address" → "email_address".
func canonicalFieldName(k string) string {
	k = strings.ToLower(strings.TrimSpace(k))
	return strings.Map(func(r rune) rune {
		switch r {
		case '-', ' ', '[', '.':
			return '_'
		case ']':
			return -1
		}
		return r
	}, k)
}

// lastSegment is the part after the last separator for nested names
// ("contact_email" is kept whole; "fields_email" → "email" is not assumed).
// Nested names come from brackets or JSON paths, which canonicalFieldName
// turned into '_', so this only strips known container prefixes.
func lastSegment(k string) string {
	for _, prefix := range []string{"fields_", "field_", "data_", "contact_", "form_", "lead_", "input_"} {
		if strings.HasPrefix(k, prefix) {
			return strings.TrimPrefix(k, prefix)
		}
	}
	return k
}

func formTouch(idx map[string]string, pageURL, referrer string, req *RawRequest) *Touch {
	t := &Touch{
		Source:      idx["utm_source"],
		Medium:      idx["utm_medium"],
		Campaign:    idx["utm_campaign"],
		Term:        idx["utm_term"],
		Content:     idx["utm_content"],
		Gclid:       idx["gclid"],
		Fbclid:      idx["fbclid"],
		LiFatID:     idx["li_fat_id"],
		PageURL:     pageURL,
		Referrer:    referrer,
		CycleSource: req.Source,
		At:          req.ReceivedAt.UTC(),
	}
	// Hidden UTM fields win; otherwise read them off the page URL, then the
	// referrer (the landing URL often is the referrer of the form post).
	for _, raw := range []string{pageURL, referrer} {
		fillTouchFromURL(t, raw)
	}
	if t.Empty() {
		return nil
	}
	return t
}

func fillTouchFromURL(t *Touch, raw string) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		return
	}
	q := u.Query()
	fill := func(dst *string, key string) {
		if *dst == "" {
			*dst = CleanText(q.Get(key))
		}
	}
	fill(&t.Source, "utm_source")
	fill(&t.Medium, "utm_medium")
	fill(&t.Campaign, "utm_campaign")
	fill(&t.Term, "utm_term")
	fill(&t.Content, "utm_content")
	fill(&t.Gclid, "gclid")
	fill(&t.Fbclid, "fbclid")
	fill(&t.LiFatID, "li_fat_id")
}

// addUnmappedFields keeps every other field as a property, so nothing the
// person typed is lost from the timeline.
func addUnmappedFields(ev *Event, f *Fields) {
	known := knownFormFields
	fieldsProp := map[string]any{}
	for _, k := range f.Keys() {
		if known[canonicalFieldName(k)] || known[nestedFieldName(k)] {
			continue
		}
		vals := f.Values(k)
		if len(vals) == 1 {
			if v := CleanText(vals[0]); v != "" {
				fieldsProp[k] = v
			}
			continue
		}
		fieldsProp[k] = vals
	}
	if len(fieldsProp) > 0 {
		ev.Properties["fields"] = fieldsProp
	}
}

func setTrait(traits map[string]string, name, value string) {
	if v := CleanText(value); v != "" {
		traits[name] = v
	}
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
