package mapping

import (
	"crypto/hmac"
	"crypto/sha256"
)

// SuppressionHash is the suppression-list entry of an identifier: an HMAC
// of its key under the deployment's suppression key, so the list proves a
// person was erased without holding their email or phone.
func SuppressionHash(key []byte, id Identity) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id.Key()))
	return m.Sum(nil)
}
