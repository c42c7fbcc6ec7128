package mapping

import (
	"slices"
	"testing"
)

func TestChannel(t *testing.T) {
	tests := []struct {
		name  string
		touch *Touch
		want  string
	}{
		// Nothing to go on.
		{"a nil touch is direct", nil, ChannelDirect},
		{"an empty touch is direct", &Touch{}, ChannelDirect},
		{"a touch with only its own page is direct", &Touch{PageURL: "https://acme.com/pricing"}, ChannelDirect},
		{"GA's (direct) / (none) tags are direct", &Touch{Source: "(direct)", Medium: "(none)"}, ChannelDirect},

		// An explicit medium.
		{"cpc from google is paid search", &Touch{Source: "google", Medium: "cpc"}, ChannelPaidSearch},
		{"mediums are compared case-insensitively", &Touch{Source: "Google", Medium: " CPC "}, ChannelPaidSearch},
		{"a hyphenated paid-search medium is paid search", &Touch{Source: "bing", Medium: "Paid-Search"}, ChannelPaidSearch},
		{"ppc is paid search", &Touch{Source: "bing", Medium: "ppc"}, ChannelPaidSearch},
		{"sem is paid search", &Touch{Medium: "sem"}, ChannelPaidSearch},
		{"cpc from a source that is no social network is paid search", &Touch{Source: "capterra", Medium: "cpc"}, ChannelPaidSearch},
		{"cpc from facebook is paid social", &Touch{Source: "facebook", Medium: "cpc"}, ChannelPaidSocial},
		{"cpc from a worded social source is paid social", &Touch{Source: "LinkedIn Ads", Medium: "cpc"}, ChannelPaidSocial},
		{"cpc from a social host is paid social", &Touch{Source: "l.instagram.com", Medium: "cpc"}, ChannelPaidSocial},
		{"cpc without a source but with an fbclid is paid social", &Touch{Medium: "cpc", Fbclid: "IwAR1"}, ChannelPaidSocial},
		{"cpc without a source from a social referrer is paid social", &Touch{Medium: "cpc", Referrer: "https://www.tiktok.com/"}, ChannelPaidSocial},
		{"cpc without a source with both gclid and fbclid is paid search", &Touch{Medium: "cpc", Gclid: "Cj0", Fbclid: "IwAR1"}, ChannelPaidSearch},
		{"cpc from google with an fbclid is paid search: the source says Google", &Touch{Source: "google", Medium: "cpc", Fbclid: "IwAR1"}, ChannelPaidSearch},
		{"paid_social is paid social whatever the source", &Touch{Source: "newsletter", Medium: "paid_social"}, ChannelPaidSocial},
		{"paidsocial is paid social", &Touch{Medium: "paidsocial"}, ChannelPaidSocial},
		{"social_paid is paid social", &Touch{Source: "meta", Medium: "social_paid"}, ChannelPaidSocial},
		{"cpm from linkedin is paid social", &Touch{Source: "linkedin", Medium: "cpm"}, ChannelPaidSocial},
		{"cpm from an ad network is paid other", &Touch{Source: "adroll", Medium: "cpm"}, ChannelPaidOther},
		{"paid from instagram is paid social", &Touch{Source: "ig", Medium: "paid"}, ChannelPaidSocial},
		{"paid from a publisher is paid other", &Touch{Source: "taboola", Medium: "paid"}, ChannelPaidOther},
		{"display is paid other even from a social network", &Touch{Source: "facebook", Medium: "display"}, ChannelPaidOther},
		{"banner is paid other", &Touch{Source: "news-site", Medium: "banner"}, ChannelPaidOther},
		{"affiliate is paid other", &Touch{Source: "partner42", Medium: "affiliate"}, ChannelPaidOther},
		{"email is email", &Touch{Source: "mailchimp", Medium: "email"}, ChannelEmail},
		{"e-mail is email", &Touch{Medium: "E-Mail"}, ChannelEmail},
		{"newsletter is email", &Touch{Source: "weekly", Medium: "newsletter"}, ChannelEmail},
		{"social is social", &Touch{Source: "linkedin", Medium: "social"}, ChannelSocial},
		{"social-network is social", &Touch{Source: "twitter", Medium: "social-network"}, ChannelSocial},
		{"organic_social is social", &Touch{Source: "instagram", Medium: "organic_social"}, ChannelSocial},
		{"organic is organic search", &Touch{Source: "google", Medium: "organic"}, ChannelOrganicSearch},
		{"referral is referral", &Touch{Source: "g2.com", Medium: "referral"}, ChannelReferral},

		// Medium against click ids: an explicit medium wins.
		{"a gclid alone is paid search", &Touch{Gclid: "Cj0KCQ"}, ChannelPaidSearch},
		{"a gclid with utm_medium=email is email: the medium wins", &Touch{Medium: "email", Gclid: "Cj0KCQ"}, ChannelEmail},
		{"a gclid with utm_medium=social is social", &Touch{Source: "youtube", Medium: "social", Gclid: "Cj0KCQ"}, ChannelSocial},
		{"a gclid with an unknown medium is paid search", &Touch{Source: "poster", Medium: "qr", Gclid: "Cj0KCQ"}, ChannelPaidSearch},
		{"a gclid from a search referrer is still paid search", &Touch{Gclid: "Cj0KCQ", Referrer: "https://www.google.com/"}, ChannelPaidSearch},
		{"an fbclid alone is social: Facebook tags organic links too", &Touch{Fbclid: "IwAR1"}, ChannelSocial},
		{"an fbclid from a Facebook referrer is social", &Touch{Fbclid: "IwAR1", Referrer: "https://l.facebook.com/"}, ChannelSocial},
		{"an fbclid with a paid social medium is paid social", &Touch{Medium: "paid_social", Fbclid: "IwAR1"}, ChannelPaidSocial},
		{"an fbclid with cpc from facebook is paid social", &Touch{Source: "facebook", Medium: "cpc", Fbclid: "IwAR1"}, ChannelPaidSocial},
		{"an fbclid with a newsletter source and no medium is social", &Touch{Source: "newsletter", Fbclid: "IwAR1"}, ChannelSocial},
		{"a li_fat_id alone is paid social", &Touch{LiFatID: "abc-123"}, ChannelPaidSocial},
		{"a li_fat_id with utm_medium=social is social: the medium wins", &Touch{Medium: "social", LiFatID: "abc-123"}, ChannelSocial},
		{"a gclid beats an fbclid without a medium", &Touch{Gclid: "Cj0", Fbclid: "IwAR1"}, ChannelPaidSearch},

		// UTM tags against the referrer: the tags win.
		{"an email medium beats a search referrer", &Touch{Source: "newsletter", Medium: "email", Referrer: "https://www.google.com/"}, ChannelEmail},
		{"an unknown source beats a search referrer as a referral", &Touch{Source: "partner", Referrer: "https://www.google.com/"}, ChannelReferral},
		{"a social source without a medium is social", &Touch{Source: "facebook", Referrer: "https://www.google.com/"}, ChannelSocial},
		{"a search source without a medium is organic search", &Touch{Source: "google"}, ChannelOrganicSearch},
		{"an email tool source without a medium is email", &Touch{Source: "Klaviyo"}, ChannelEmail},
		{"a source alone is never paid", &Touch{Source: "google_ads"}, ChannelOrganicSearch},
		{"an unknown medium alone is a referral", &Touch{Medium: "qr"}, ChannelReferral},

		// The referrer alone.
		{"a Brazilian Google referrer is organic search", &Touch{Referrer: "https://www.google.com.br/"}, ChannelOrganicSearch},
		{"a British Google search is organic search", &Touch{Referrer: "https://google.co.uk/search?q=crm"}, ChannelOrganicSearch},
		{"bing is organic search", &Touch{Referrer: "https://www.bing.com/"}, ChannelOrganicSearch},
		{"duckduckgo is organic search", &Touch{Referrer: "https://duckduckgo.com/"}, ChannelOrganicSearch},
		{"Japanese Yahoo search is organic search", &Touch{Referrer: "https://search.yahoo.co.jp/search?p=x"}, ChannelOrganicSearch},
		{"yandex is organic search", &Touch{Referrer: "https://yandex.ru/search/?text=x"}, ChannelOrganicSearch},
		{"ecosia is organic search", &Touch{Referrer: "https://www.ecosia.org/search?q=x"}, ChannelOrganicSearch},
		{"naver is organic search", &Touch{Referrer: "https://search.naver.com/"}, ChannelOrganicSearch},
		{"seznam is organic search", &Touch{Referrer: "https://search.seznam.cz/"}, ChannelOrganicSearch},
		{"baidu is organic search", &Touch{Referrer: "https://www.baidu.com/link?url=x"}, ChannelOrganicSearch},
		{"a referrer without a scheme is read as a host", &Touch{Referrer: "google.com"}, ChannelOrganicSearch},
		{"a referrer host is compared case-insensitively", &Touch{Referrer: "HTTPS://WWW.GOOGLE.DE/"}, ChannelOrganicSearch},
		{"Gmail on the web is email, not search", &Touch{Referrer: "https://mail.google.com/"}, ChannelEmail},
		{"Outlook on the web is email", &Touch{Referrer: "https://outlook.live.com/"}, ChannelEmail},
		{"Yahoo Mail is email, not search", &Touch{Referrer: "https://mail.yahoo.co.uk/"}, ChannelEmail},
		{"a Google Doc is a referral, not search", &Touch{Referrer: "https://docs.google.com/document/d/1"}, ChannelReferral},
		{"Facebook's link shim is social", &Touch{Referrer: "https://l.facebook.com/"}, ChannelSocial},
		{"Facebook mobile is social", &Touch{Referrer: "https://m.facebook.com/"}, ChannelSocial},
		{"Instagram is social", &Touch{Referrer: "https://www.instagram.com/"}, ChannelSocial},
		{"LinkedIn is social", &Touch{Referrer: "https://www.linkedin.com/feed/"}, ChannelSocial},
		{"LinkedIn's shortener is social", &Touch{Referrer: "https://lnkd.in/abc"}, ChannelSocial},
		{"t.co is social", &Touch{Referrer: "https://t.co/xyz"}, ChannelSocial},
		{"x.com is social", &Touch{Referrer: "https://x.com/"}, ChannelSocial},
		{"YouTube is social", &Touch{Referrer: "https://www.youtube.com/"}, ChannelSocial},
		{"Reddit is social", &Touch{Referrer: "https://old.reddit.com/r/crm"}, ChannelSocial},
		{"Pinterest in another country is social", &Touch{Referrer: "https://br.pinterest.com/"}, ChannelSocial},
		{"Threads is social", &Touch{Referrer: "https://www.threads.net/"}, ChannelSocial},
		{"fb.me is social", &Touch{Referrer: "https://fb.me/x"}, ChannelSocial},
		{"TikTok is social", &Touch{Referrer: "https://www.tiktok.com/"}, ChannelSocial},
		{"the LinkedIn Android app is social", &Touch{Referrer: "android-app://com.linkedin.android/"}, ChannelSocial},
		{"the Gmail Android app is email", &Touch{Referrer: "android-app://com.google.android.gm/"}, ChannelEmail},
		{"the Google Android app is organic search", &Touch{Referrer: "android-app://com.google.android.googlequicksearchbox/"}, ChannelOrganicSearch},
		{"an unknown Android app is a referral", &Touch{Referrer: "android-app://com.example.reader/"}, ChannelReferral},
		{"another site is a referral", &Touch{Referrer: "https://blog.example.org/post"}, ChannelReferral},
		{"a short brand that only looks like an email app is a referral", &Touch{Referrer: "https://www.gm.com/"}, ChannelReferral},
		{"a site whose name only contains a search brand is a referral", &Touch{Referrer: "https://googlefans.example.com/"}, ChannelReferral},
		{"a page of the touch's own site is direct", &Touch{PageURL: "https://acme.com/contact", Referrer: "https://www.acme.com/pricing"}, ChannelDirect},
		{"a page of another subdomain of the own site is direct", &Touch{PageURL: "https://www.acme.co.uk/", Referrer: "https://blog.acme.co.uk/"}, ChannelDirect},
		{"a landing page on another site is a referral", &Touch{PageURL: "https://acme.com/", Referrer: "https://partner.com/"}, ChannelReferral},
		{"an unreadable referrer is direct", &Touch{Referrer: "http://[::1"}, ChannelDirect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Channel(tt.touch); got != tt.want {
				t.Errorf("Channel(%+v) = %q, want %q", tt.touch, got, tt.want)
			}
		})
	}
}

// TestChannelReadsFormTouches runs Channel on touches built the way the form
// mapper builds them, UTMs read off the page URL.
func TestChannelReadsFormTouches(t *testing.T) {
	tests := []struct {
		name     string
		pageURL  string
		referrer string
		want     string
	}{
		{"UTMs on the landing page decide", "https://acme.com/?utm_source=facebook&utm_medium=paid_social&fbclid=IwAR1", "https://acme.com/", ChannelPaidSocial},
		{"an auto-tagged Google Ads landing page is paid search", "https://acme.com/demo?gclid=Cj0KCQ", "", ChannelPaidSearch},
		{"a form posted from its own landing page is direct", "https://acme.com/demo", "https://acme.com/demo", ChannelDirect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			touch := &Touch{PageURL: tt.pageURL, Referrer: tt.referrer}
			fillTouchFromURL(touch, tt.pageURL)
			if got := Channel(touch); got != tt.want {
				t.Errorf("Channel(%+v) = %q, want %q", touch, got, tt.want)
			}
		})
	}
}

var allChannels = []string{
	ChannelPaidSearch, ChannelPaidSocial, ChannelPaidOther, ChannelEmail,
	ChannelSocial, ChannelOrganicSearch, ChannelReferral, ChannelDirect,
}

func FuzzChannel(f *testing.F) {
	f.Add("google", "cpc", "", "", "https://www.google.com.br/", "https://acme.com/")
	f.Add("", "", "IwAR1", "", "android-app://com.linkedin.android", "")
	f.Add("(direct)", "(none)", "", "x", "http://[::1", "%zz")
	f.Fuzz(func(t *testing.T, source, medium, fbclid, gclid, referrer, pageURL string) {
		touch := &Touch{Source: source, Medium: medium, Fbclid: fbclid, Gclid: gclid, Referrer: referrer, PageURL: pageURL}
		if got := Channel(touch); !slices.Contains(allChannels, got) {
			t.Fatalf("Channel(%+v) = %q: not a channel", touch, got)
		}
	})
}

// BenchmarkChannel groups a mix of tagged, click-id and referrer-only
// touches.
func BenchmarkChannel(b *testing.B) {
	touches := []*Touch{
		{Source: "google", Medium: "cpc", Gclid: "Cj0KCQ", PageURL: "https://acme.com/?gclid=Cj0KCQ"},
		{Source: "Facebook", Medium: "Paid-Social", Fbclid: "IwAR1"},
		{Fbclid: "IwAR1", Referrer: "https://l.facebook.com/"},
		{Referrer: "https://www.google.com.br/", PageURL: "https://acme.com/pricing"},
		{Referrer: "https://blog.example.org/post", PageURL: "https://acme.com/"},
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		Channel(touches[i%len(touches)])
		i++
	}
}
