package webhooks

import (
	"fmt"
	"testing"
)

// BenchmarkVerify measures each provider's signature check on a correctly
// signed request of a realistic 1 KiB body (the HMAC and the header
// parsing; reading the body is not included).
func BenchmarkVerify(b *testing.B) {
	body := make([]byte, 0, 1024)
	body = append(body, `{"event_id":"evt_01","email":"ana.souza@example.com","answers":[`...)
	for i := 0; len(body) < 1000; i++ {
		body = fmt.Appendf(body, `{"field":"q%d","text":"an answer of moderate length"},`, i)
	}
	body = append(body[:len(body)-1], "]}"...)
	for _, s := range schemes() {
		verify := verifierOf(b, s.provider)
		r := s.request(body, signedAt, s.secretOf())
		if err := verify(s.cfg, r, body, signedAt); err != nil {
			b.Fatalf("%s: %v", s.provider, err)
		}
		b.Run(s.provider, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := verify(s.cfg, r, body, signedAt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
