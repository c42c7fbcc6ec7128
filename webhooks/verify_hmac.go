package webhooks

import (
	"crypto/hmac"
	"crypto/sha1" // #nosec G505 -- Intercom, Help Scout and SurveyMonkey sign with HMAC-SHA1; HMAC does not rest on SHA-1's collision resistance
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net/http"
	"time"
)

// bodyHMAC is the scheme most providers use: one header carrying
// prefix + encode(HMAC(key, signedPrefix + raw body)), with no timestamp.
type bodyHMAC struct {
	// header carries the signature (documented spelling; lookups are
	// case-insensitive).
	header string
	// prefix precedes the encoded MAC in the header ("sha256=").
	prefix string
	// signedPrefix precedes the body in the signed bytes (LinkedIn's
	// "hmacsha256=").
	signedPrefix string
	hash         func() hash.Hash
	encode       func([]byte) string
	// key returns the HMAC key; nil means the source Secret.
	key func(cfg SourceConfig, r *http.Request) ([]byte, error)
}

var (
	// metaSignature: X-Hub-Signature-256 = "sha256=" + hex HMAC-SHA256(App
	// Secret, body). The legacy SHA-1 X-Hub-Signature is not accepted.
	metaSignature = bodyHMAC{header: "X-Hub-Signature-256", prefix: "sha256=", hash: sha256.New, encode: hex.EncodeToString}
	// linkedInSignature: X-LI-Signature = hex HMAC-SHA256(client secret,
	// "hmacsha256=" + body).
	linkedInSignature = bodyHMAC{header: "X-LI-Signature", signedPrefix: "hmacsha256=", hash: sha256.New, encode: hex.EncodeToString}
	// intercomSignature: X-Hub-Signature = "sha1=" + hex HMAC-SHA1(client
	// secret, body).
	intercomSignature = bodyHMAC{header: "X-Hub-Signature", prefix: "sha1=", hash: sha1.New, encode: hex.EncodeToString}
	// helpScoutSignature: X-HelpScout-Signature = base64 HMAC-SHA1(secret,
	// body).
	helpScoutSignature = bodyHMAC{header: "X-HelpScout-Signature", hash: sha1.New, encode: base64.StdEncoding.EncodeToString}
	// typeformSignature: Typeform-Signature = "sha256=" + base64
	// HMAC-SHA256(secret, body).
	typeformSignature = bodyHMAC{header: "Typeform-Signature", prefix: "sha256=", hash: sha256.New, encode: base64.StdEncoding.EncodeToString}
	// tallySignature: Tally-Signature = base64 HMAC-SHA256(secret, body).
	tallySignature = bodyHMAC{header: "Tally-Signature", hash: sha256.New, encode: base64.StdEncoding.EncodeToString}
	// surveyMonkeySignature: Sm-Signature = base64 HMAC-SHA1(client_id + "&"
	// + secret, body).
	surveyMonkeySignature = bodyHMAC{header: "Sm-Signature", hash: sha1.New, encode: base64.StdEncoding.EncodeToString, key: surveyMonkeyKey}
)

func (s bodyHMAC) verify(cfg SourceConfig, r *http.Request, body []byte, _ time.Time) error {
	got, err := requireHeader(r, s.header)
	if err != nil {
		return err
	}
	var key []byte
	if s.key != nil {
		key, err = s.key(cfg, r)
	} else {
		key, err = secretKey(cfg)
	}
	if err != nil {
		return err
	}
	want := s.prefix + s.encode(macOf(s.hash, key, []byte(s.signedPrefix), body))
	return compareSignature(s.header, got, want)
}

// surveyMonkeyKey is "<client_id>&<API secret>". The client id is public
// (SurveyMonkey sends it as Sm-Apikey): a configured client_id must match
// it, and without one the header's is used. The secret stays the proof.
func surveyMonkeyKey(cfg SourceConfig, r *http.Request) ([]byte, error) {
	clientID := cfg.ClientID
	if sent := r.Header.Get("Sm-Apikey"); clientID == "" {
		clientID = sent
	} else if sent != "" && sent != clientID {
		return nil, &AuthError{Reason: "Sm-Apikey names another app than the source's client_id"}
	}
	if clientID == "" {
		return nil, &AuthError{Reason: "missing Sm-Apikey header (or set the source's client_id)"}
	}
	k, err := secretKey(cfg)
	if err != nil {
		return nil, err
	}
	return []byte(clientID + "&" + string(k)), nil
}

// secretKey returns the source Secret as an HMAC key. An empty key would let
// anyone sign, so a source without a secret authenticates nothing.
func secretKey(cfg SourceConfig) ([]byte, error) {
	if cfg.Secret.IsZero() {
		return nil, &AuthError{Reason: "the signature cannot be checked: the source has no secret configured"}
	}
	return []byte(cfg.Secret.Reveal()), nil
}

// requireHeader returns the first value of the header name, or an AuthError
// naming it when it is absent or empty.
func requireHeader(r *http.Request, name string) (string, error) {
	v := r.Header.Get(name)
	if v == "" {
		return "", authErrorf("missing %s header", name)
	}
	return v, nil
}

// macOf returns HMAC(key, parts...) with the hash h.
func macOf(h func() hash.Hash, key []byte, parts ...[]byte) []byte {
	m := hmac.New(h, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// compareSignature compares the header value got with the encoded
// signature want in constant time. The reason never contains want.
func compareSignature(header, got, want string) error {
	if hmac.Equal([]byte(got), []byte(want)) {
		return nil
	}
	return authErrorf("%s does not match the request body", header)
}

// checkFresh rejects a signed timestamp ts (from header) further than
// window from now, in the past or in the future.
func checkFresh(header string, ts, now time.Time, window time.Duration) error {
	if age := now.Sub(ts); age > window {
		return authErrorf("%s is %s old, outside the %s replay window", header, age.Round(time.Second), window)
	}
	if ahead := ts.Sub(now); ahead > window {
		return authErrorf("%s is %s in the future, outside the %s replay window", header, ahead.Round(time.Second), window)
	}
	return nil
}
