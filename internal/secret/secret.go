package secret

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
)

// redacted is what a non-empty Secret prints as.
const redacted = "***"

// Secret is a sensitive string such as an API key, password or token.
//
// Every way of formatting or serialising it (fmt verbs including %v, %s, %q
// and %#v, encoding/json, and any encoder that honours
// [encoding.TextMarshaler], such as YAML) yields "***" instead of the value,
// or "" when the secret is empty so that a missing secret stays visible.
// Use [Secret.Reveal] to obtain the value itself.
//
// Secret has no unmarshalling methods on purpose: decoders treat it as a
// plain string, so it decodes from any YAML or JSON scalar.
type Secret string

// String returns "***" for a non-empty secret and "" for an empty one.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString is like [Secret.String]; it keeps %#v from printing the value.
func (s Secret) GoString() string { return s.String() }

// MarshalText implements [encoding.TextMarshaler] with the redacted form.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalJSON implements [json.Marshaler] with the redacted form, as a JSON
// string.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Reveal returns the secret value. Call it only where the value is used.
func (s Secret) Reveal() string { return string(s) }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s == "" }

// Equal reports whether other equals the secret, in time that depends on
// neither the contents nor the lengths of the two values: both are hashed
// with SHA-256 and the fixed-size digests are compared with
// [subtle.ConstantTimeCompare].
func (s Secret) Equal(other string) bool {
	a := sha256.Sum256([]byte(s))
	b := sha256.Sum256([]byte(other))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
