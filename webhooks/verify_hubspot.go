package webhooks

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// HubSpot's signature headers, as documented.
const (
	hubSpotV3Header        = "X-HubSpot-Signature-v3"
	hubSpotTimestampHeader = "X-HubSpot-Request-Timestamp"
	hubSpotLegacyHeader    = "X-HubSpot-Signature"
	hubSpotVersionHeader   = "X-HubSpot-Signature-Version"
)

// verifyHubSpot checks HubSpot's v3 signature when X-HubSpot-Signature-v3
// is present: base64 HMAC-SHA256(client secret, method + URI + body +
// timestamp), the timestamp in Unix milliseconds and within the replay
// window. Only when no v3 header is sent does it accept the legacy
// X-HubSpot-Signature, per X-HubSpot-Signature-Version: v1 = hex
// SHA-256(secret + body), v2 = hex SHA-256(secret + method + URI + body).
// These are plain hashes with no timestamp, so they cannot stop replays.
func verifyHubSpot(cfg SourceConfig, r *http.Request, body []byte, now time.Time) error {
	if r.Header.Get(hubSpotV3Header) != "" {
		return verifyHubSpotV3(cfg, r, body, now)
	}
	if r.Header.Get(hubSpotLegacyHeader) != "" {
		return verifyHubSpotLegacy(cfg, r, body)
	}
	return authErrorf("missing %s header", hubSpotV3Header)
}

func verifyHubSpotV3(cfg SourceConfig, r *http.Request, body []byte, now time.Time) error {
	got, err := requireHeader(r, hubSpotV3Header)
	if err != nil {
		return err
	}
	ts, err := requireHeader(r, hubSpotTimestampHeader)
	if err != nil {
		return err
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return authErrorf("%s is not a Unix time in milliseconds", hubSpotTimestampHeader)
	}
	if err := checkFresh(hubSpotTimestampHeader, time.UnixMilli(ms), now, tolerance(cfg)); err != nil {
		return err
	}
	key, err := secretKey(cfg)
	if err != nil {
		return err
	}
	uri := hubSpotV3URIDecoder.Replace(hubSpotURI(cfg, r))
	want := base64.StdEncoding.EncodeToString(macOf(sha256.New, key, []byte(r.Method), []byte(uri), body, []byte(ts)))
	return compareSignature(hubSpotV3Header, got, want)
}

func verifyHubSpotLegacy(cfg SourceConfig, r *http.Request, body []byte) error {
	got, err := requireHeader(r, hubSpotLegacyHeader)
	if err != nil {
		return err
	}
	version, err := requireHeader(r, hubSpotVersionHeader)
	if err != nil {
		return err
	}
	key, err := secretKey(cfg)
	if err != nil {
		return err
	}
	h := sha256.New()
	h.Write(key)
	switch version {
	case "v1":
	case "v2":
		h.Write([]byte(r.Method))
		h.Write([]byte(hubSpotURI(cfg, r)))
	default:
		return authErrorf("%s must be v1 or v2 when no %s is sent", hubSpotVersionHeader, hubSpotV3Header)
	}
	h.Write(body)
	return compareSignature(hubSpotLegacyHeader, got, hex.EncodeToString(h.Sum(nil)))
}

// hubSpotURI is the full URI HubSpot called: the source's PublicURL plus
// the request's query when PublicURL is set, else rebuilt from the request
// (scheme from X-Forwarded-Proto, else TLS; Host; request URI).
func hubSpotURI(cfg SourceConfig, r *http.Request) string {
	if cfg.PublicURL != "" {
		if r.URL.RawQuery != "" {
			return cfg.PublicURL + "?" + r.URL.RawQuery
		}
		return cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		// A proxy chain appends; the first value is what the client used.
		scheme = strings.ToLower(strings.TrimSpace(strings.Split(p, ",")[0]))
	}
	// The request target exactly as sent, unless it was empty or in
	// absolute form (then its path and query).
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") {
		uri = r.URL.RequestURI()
	}
	return scheme + "://" + r.Host + uri
}

// hubSpotV3URIDecoder decodes the percent-escapes HubSpot's v3 instructions
// list before signing the URI (":", "/", "?", "@", "!", "$", "'", "(", ")",
// "*", ",", ";"); every other escape stays as sent.
var hubSpotV3URIDecoder = strings.NewReplacer(
	"%3A", ":", "%3a", ":", "%2F", "/", "%2f", "/", "%3F", "?", "%3f", "?",
	"%40", "@", "%21", "!", "%24", "$", "%27", "'", "%28", "(", "%29", ")",
	"%2A", "*", "%2a", "*", "%2C", ",", "%2c", ",", "%3B", ";", "%3b", ";",
)
