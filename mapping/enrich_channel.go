package mapping

import (
	"net/url"
	"strings"
)

// Marketing channels a touch is grouped into (Channel). They follow GA4's
// default channel grouping, coarser: one paid bucket per ad kind, no
// "unassigned".
const (
	// ChannelPaidSearch is a paid click on a search ad (Google Ads,
	// Microsoft Advertising): a cpc-like utm_medium, or a gclid.
	ChannelPaidSearch = "paid_search"
	// ChannelPaidSocial is a paid ad on a social network (Meta, LinkedIn,
	// TikTok ads): a paid utm_medium with a social source, or a li_fat_id.
	ChannelPaidSocial = "paid_social"
	// ChannelPaidOther is other bought media: display, banners, affiliates,
	// CPM buys off social networks.
	ChannelPaidOther = "paid_other"
	// ChannelEmail is a link in an email: an email or newsletter medium or
	// source, or a webmail referrer (mail.google.com).
	ChannelEmail = "email"
	// ChannelSocial is an unpaid post or link on a social network, including
	// a click carrying only Facebook's fbclid, which Facebook adds to organic
	// links too.
	ChannelSocial = "social"
	// ChannelOrganicSearch is an unpaid search result: a search engine
	// referrer, a search engine source, or utm_medium=organic.
	ChannelOrganicSearch = "organic_search"
	// ChannelReferral is a link on another website, or a tagged link whose
	// tags name no known channel (someone tagged it: it was not typed in).
	ChannelReferral = "referral"
	// ChannelDirect is a touch that says nothing about where the visit came
	// from: no tags, no click ids, no referrer or only the site's own pages.
	ChannelDirect = "direct"
)

// Channel groups a touch into one marketing channel. A nil or empty touch
// is ChannelDirect. Values are compared case-insensitively; in mediums
// spaces and '-' count as '_' ("Paid-Search" is paid_search). Precedence,
// first match wins:
//
//  1. A known utm_medium, whatever the click ids and referrer say: the
//     tagger's word is explicit (gclid with utm_medium=email is email).
//     Paid mediums (cpc, ppc, cpm, paid, …) become paid_social when the
//     source is a social network or, without a source, the click came from
//     one (fbclid, li_fat_id or a social referrer, and no gclid).
//  2. Click ids, when the medium is absent or unknown: gclid → paid_search,
//     li_fat_id → paid_social, fbclid → social (not proof of an ad).
//  3. Any other UTM tag: utm_source naming a social network → social, a
//     search engine → organic_search, an email tool → email, "direct" →
//     direct; anything else → referral. A tagged link wins over the
//     referrer; utm_source alone never makes a touch paid.
//  4. The referrer: search engine → organic_search, social network →
//     social, webmail → email, another site → referral; none, unreadable,
//     or a page of the touch's own site (PageURL, as when a form post's
//     referrer is its landing page) → direct.
func Channel(t *Touch) string {
	if t.Empty() {
		return ChannelDirect
	}
	medium := mediumToken(t.Medium)
	source := utmValue(t.Source)
	ref := referrerKind(t.Referrer, t.PageURL)

	if ch := channelOfMedium(medium, source, t, ref); ch != "" {
		return ch
	}
	switch {
	case t.Gclid != "":
		return ChannelPaidSearch
	case t.LiFatID != "":
		return ChannelPaidSocial
	case t.Fbclid != "":
		return ChannelSocial
	}
	if source != "" || medium != "" {
		switch sourceKind(source) {
		case siteSocial:
			return ChannelSocial
		case siteSearch:
			return ChannelOrganicSearch
		case siteEmail:
			return ChannelEmail
		case siteDirect:
			return ChannelDirect
		default:
			return ChannelReferral
		}
	}
	switch ref {
	case siteSearch:
		return ChannelOrganicSearch
	case siteSocial:
		return ChannelSocial
	case siteEmail:
		return ChannelEmail
	case siteOther:
		return ChannelReferral
	default:
		return ChannelDirect
	}
}

// mediumKind is what a utm_medium value says.
type mediumKind uint8

const (
	mediumUnknown    mediumKind = iota
	mediumPaidSearch            // paid_search, or paid_social from a social source
	mediumPaidSocial            // always paid_social
	mediumPaid                  // paid_other, or paid_social from a social source
	mediumPaidOther             // always paid_other
	mediumEmail
	mediumSocial
	mediumOrganic
	mediumReferral
)

// mediums maps normalized utm_medium values (mediumToken) to their kind.
var mediums = map[string]mediumKind{
	"cpc": mediumPaidSearch, "ppc": mediumPaidSearch, "paidsearch": mediumPaidSearch,
	"paid_search": mediumPaidSearch, "sem": mediumPaidSearch,

	"paid_social": mediumPaidSocial, "paidsocial": mediumPaidSocial, "social_paid": mediumPaidSocial,
	"socialpaid": mediumPaidSocial, "social_ads": mediumPaidSocial, "social_ad": mediumPaidSocial,

	"cpm": mediumPaid, "cpv": mediumPaid, "cpa": mediumPaid, "cpp": mediumPaid, "paid": mediumPaid,
	"ads": mediumPaid, "ad": mediumPaid, "paid_media": mediumPaid, "paidmedia": mediumPaid,
	"retargeting": mediumPaid, "remarketing": mediumPaid, "sponsored": mediumPaid,

	"display": mediumPaidOther, "banner": mediumPaidOther, "banners": mediumPaidOther,
	"affiliate": mediumPaidOther, "affiliates": mediumPaidOther, "native": mediumPaidOther,
	"programmatic": mediumPaidOther, "interstitial": mediumPaidOther,

	"email": mediumEmail, "e_mail": mediumEmail, "newsletter": mediumEmail,
	"newsletters": mediumEmail, "emailing": mediumEmail, "mail": mediumEmail,
	"email_marketing": mediumEmail,

	"social": mediumSocial, "social_network": mediumSocial, "social_media": mediumSocial,
	"socialmedia": mediumSocial, "organic_social": mediumSocial, "social_organic": mediumSocial,

	"organic": mediumOrganic, "organic_search": mediumOrganic, "seo": mediumOrganic,

	"referral": mediumReferral, "referal": mediumReferral,
}

// channelOfMedium is step 1 of Channel: "" when the medium is absent or
// unknown.
func channelOfMedium(medium, source string, t *Touch, ref siteKind) string {
	switch mediums[medium] {
	case mediumPaidSearch:
		if socialOrigin(source, t, ref) {
			return ChannelPaidSocial
		}
		return ChannelPaidSearch
	case mediumPaidSocial:
		return ChannelPaidSocial
	case mediumPaid:
		if socialOrigin(source, t, ref) {
			return ChannelPaidSocial
		}
		return ChannelPaidOther
	case mediumPaidOther:
		return ChannelPaidOther
	case mediumEmail:
		return ChannelEmail
	case mediumSocial:
		return ChannelSocial
	case mediumOrganic:
		return ChannelOrganicSearch
	case mediumReferral:
		return ChannelReferral
	}
	return ""
}

// socialOrigin reports whether a paid click came from a social network: the
// source names one, or, with no source, a social click id or referrer (a
// gclid says Google).
func socialOrigin(source string, t *Touch, ref siteKind) bool {
	switch {
	case source != "":
		return sourceKind(source) == siteSocial
	case t.Gclid != "":
		return false
	case t.Fbclid != "" || t.LiFatID != "":
		return true
	}
	return ref == siteSocial
}

// utmValue is a UTM value trimmed and lowercased; GA's placeholders for
// "nothing" ("(none)", "(not set)") are "".
func utmValue(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	switch v {
	case "(none)", "none", "(not set)", "not set", "(not provided)":
		return ""
	}
	return v
}

// mediumToken is utmValue with spaces and '-' read as '_'.
func mediumToken(v string) string {
	return mediumSeparators.Replace(utmValue(v))
}

var mediumSeparators = strings.NewReplacer(" ", "_", "-", "_")

// siteKind is what a referrer host, app or utm_source says about a visit.
type siteKind uint8

const (
	siteNone   siteKind = iota // nothing: no referrer, or the site's own pages
	siteOther                  // another website or app
	siteSearch                 // a search engine
	siteSocial                 // a social network
	siteEmail                  // webmail, an email app or an email tool
	siteDirect                 // utm_source=direct / (direct)
)

// siteBrands maps the brand label of a registrable host (the label left of
// the public suffix: "google" in www.google.com.br, "yahoo" in
// search.yahoo.co.jp) to its kind. Matching is deliberately loose: every
// country domain of a brand counts.
var siteBrands = map[string]siteKind{
	// Search engines (GA4's list, trimmed to those with real traffic).
	"google": siteSearch, "bing": siteSearch, "duckduckgo": siteSearch, "yahoo": siteSearch,
	"baidu": siteSearch, "yandex": siteSearch, "ecosia": siteSearch, "naver": siteSearch,
	"seznam": siteSearch, "daum": siteSearch, "sogou": siteSearch, "startpage": siteSearch,
	"qwant": siteSearch, "ask": siteSearch, "aol": siteSearch, "mojeek": siteSearch,
	"petalsearch": siteSearch, "kagi": siteSearch, "lycos": siteSearch, "dogpile": siteSearch,
	"googlequicksearchbox": siteSearch, // the Google app (android-app:// referrers)

	// Social networks.
	"facebook": siteSocial, "instagram": siteSocial, "linkedin": siteSocial, "twitter": siteSocial,
	"tiktok": siteSocial, "youtube": siteSocial, "reddit": siteSocial, "pinterest": siteSocial,
	"threads": siteSocial, "snapchat": siteSocial, "tumblr": siteSocial, "quora": siteSocial,
	"whatsapp": siteSocial, "telegram": siteSocial, "discord": siteSocial, "vk": siteSocial,
	"weibo": siteSocial, "xing": siteSocial, "bsky": siteSocial, "mastodon": siteSocial,
	"messenger": siteSocial, "twitch": siteSocial, "wechat": siteSocial, "weixin": siteSocial,
	"medium": siteSocial, "zhiliaoapp": siteSocial, // TikTok's Android package
}

// siteDomains are registrable domains too short or ambiguous to match by
// brand alone (t.co is not every "t"), and search hosts whose brand also
// runs non-search sites.
var siteDomains = map[string]siteKind{
	"x.com": siteSocial, "t.co": siteSocial, "lnkd.in": siteSocial, "fb.me": siteSocial,
	"fb.com": siteSocial, "fb.watch": siteSocial, "m.me": siteSocial, "ig.me": siteSocial,
	"youtu.be": siteSocial, "redd.it": siteSocial, "pin.it": siteSocial, "t.me": siteSocial,
	"wa.me": siteSocial, "threads.net": siteSocial, "bsky.app": siteSocial,

	"ya.ru": siteSearch, "so.com": siteSearch, "you.com": siteSearch, "search.brave.com": siteSearch,
}

// nonSearchHosts are subdomains of search brands that are not search:
// a link from a Google Doc or a news article is a referral.
var nonSearchHosts = map[string]bool{
	"docs": true, "drive": true, "sites": true, "play": true, "accounts": true,
	"calendar": true, "meet": true, "groups": true, "support": true, "developers": true,
	"cloud": true, "console": true, "analytics": true, "ads": true, "business": true,
	"photos": true, "myaccount": true, "chat": true, "classroom": true, "forms": true,
	"news": true, "finance": true, "sports": true, "blog": true,
}

// webmailLabels are host labels that mean webmail: mail.google.com,
// outlook.live.com, email.seznam.cz, mail.ru.
var webmailLabels = map[string]bool{"mail": true, "webmail": true, "email": true, "outlook": true}

// emailAppLabels are the package-name labels of email apps, as in
// android-app://com.google.android.gm (Gmail); "gm" is not webmail as a
// host label (gm.com is General Motors).
var emailAppLabels = map[string]bool{"mail": true, "email": true, "outlook": true, "gm": true}

// genericSLDs are second-level labels under a two-letter country domain
// that are part of the public suffix (google.com.br, bbc.co.uk, yahoo.co.jp).
var genericSLDs = map[string]bool{
	"com": true, "co": true, "net": true, "org": true, "gov": true, "edu": true, "ac": true,
	"ne": true, "or": true, "go": true, "gob": true, "gv": true, "mil": true, "nom": true,
	"ltd": true, "plc": true, "sch": true, "gen": true, "biz": true,
}

// splitHost cuts a lowercase host into its subdomain, its brand label and
// its registrable domain: "www.google.com.br" → "www", "google",
// "google.com.br". A loose stand-in for the public suffix list.
func splitHost(host string) (sub, brand, registrable string) {
	tldDot := strings.LastIndexByte(host, '.')
	if tldDot < 0 {
		return "", host, host
	}
	brandEnd := tldDot
	dot := strings.LastIndexByte(host[:tldDot], '.')
	if dot >= 0 && len(host)-tldDot-1 == 2 && genericSLDs[host[dot+1:tldDot]] {
		brandEnd = dot
		dot = strings.LastIndexByte(host[:dot], '.')
	}
	if dot >= 0 {
		sub = host[:dot]
	}
	return sub, host[dot+1 : brandEnd], host[dot+1:]
}

// hostKind classifies a lowercase host name.
func hostKind(host string) siteKind {
	if host == "" {
		return siteNone
	}
	sub, brand, registrable := splitHost(host)
	if k, ok := siteDomains[host]; ok {
		return k
	}
	if k, ok := siteDomains[registrable]; ok {
		return k
	}
	first, _, _ := strings.Cut(sub, ".")
	if webmailLabels[first] || webmailLabels[brand] {
		return siteEmail
	}
	k, ok := siteBrands[brand]
	if !ok {
		return siteOther
	}
	if k == siteSearch {
		for label := range strings.SplitSeq(sub, ".") {
			if nonSearchHosts[label] {
				return siteOther
			}
		}
	}
	return k
}

// appKind classifies an Android app's package name, as sent in
// android-app://com.linkedin.android referrers: the most specific label
// that means email or names a known brand wins.
func appKind(pkg string) siteKind {
	labels := strings.Split(pkg, ".")
	for i := len(labels) - 1; i >= 0; i-- {
		if emailAppLabels[labels[i]] {
			return siteEmail
		}
		if k, ok := siteBrands[labels[i]]; ok {
			return k
		}
	}
	return siteOther
}

// referrerKind classifies a referrer URL; a page of pageURL's own site
// (same registrable domain) is siteNone, like no referrer.
func referrerKind(referrer, pageURL string) siteKind {
	host, app := urlHost(referrer)
	switch {
	case host == "":
		return siteNone
	case app:
		return appKind(host)
	}
	if page, _ := urlHost(pageURL); page != "" {
		_, _, a := splitHost(host)
		_, _, b := splitHost(page)
		if a == b {
			return siteNone
		}
	}
	return hostKind(host)
}

// urlHost is the lowercase host of a URL (scheme optional: "google.com/x"
// reads as a host), without port or trailing dot; app is true for an
// android-app:// URL, whose host is a package name. Unreadable is "".
func urlHost(raw string) (host string, app bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", false
	}
	if !strings.Contains(raw, "://") && !strings.HasPrefix(raw, "//") {
		raw = "//" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	host = strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	return host, strings.EqualFold(u.Scheme, "android-app")
}

// sourceAliases are whole utm_source values that name a channel but no
// host: abbreviations and email tools.
var sourceAliases = map[string]siteKind{
	"fb": siteSocial, "ig": siteSocial, "insta": siteSocial, "meta": siteSocial, "li": siteSocial,
	"tw": siteSocial, "x": siteSocial, "yt": siteSocial, "tt": siteSocial,
	"direct": siteDirect, "(direct)": siteDirect,
}

// emailSourceWords are words of a utm_source that mean an email send: the
// words themselves and the common email-marketing tools.
var emailSourceWords = map[string]bool{
	"email": true, "mail": true, "newsletter": true, "newsletters": true, "mailchimp": true,
	"klaviyo": true, "brevo": true, "sendinblue": true, "sendgrid": true, "mailerlite": true,
	"convertkit": true, "activecampaign": true, "campaignmonitor": true, "substack": true,
}

// sourceKind classifies a utm_source (trimmed, lowercase): a known alias, a
// host ("l.facebook.com"), or any word of it naming a brand or an email
// tool ("Facebook Ads", "google_organic", "e-mail").
func sourceKind(source string) siteKind {
	if source == "" {
		return siteNone
	}
	if k, ok := sourceAliases[source]; ok {
		return k
	}
	if strings.Contains(source, ".") {
		if host, _ := urlHost(source); host != "" {
			if k := hostKind(host); k != siteOther {
				return k
			}
		}
	}
	for word := range strings.FieldsFuncSeq(source, isNotAlnum) {
		if emailSourceWords[word] {
			return siteEmail
		}
		if k, ok := siteBrands[word]; ok {
			return k
		}
	}
	return siteOther
}

func isNotAlnum(r rune) bool {
	return (r < 'a' || r > 'z') && (r < '0' || r > '9')
}
