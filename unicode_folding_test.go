package httpcache

import (
	"fmt"
	"net/http"
	"testing"
)

// TestNoUnicodeFoldingInResponseFields: Cache-Control directive names and
// Vary members fold in ASCII only (lowerASCII). "publİc" (U+0130) and
// "X-İd" are no directive and no field name, yet strings.ToLower made them
// "public" (a shared cache then stored a response to a request with
// Authorization, RFC 9111 §3.5) and "x-id" (a Vary member that is not a
// token must make the response unusable for others, §4.1). Each case is
// compared with the same header using a plain unknown ASCII spelling, which
// must behave the same.
func TestNoUnicodeFoldingInResponseFields(t *testing.T) {
	cases := []struct {
		name           string
		unicode, ascii http.Header
		shared         bool
		request        []string
	}{
		{"Cache-Control publİc, shared cache, Authorization", // §3.5: not storable without public
			http.Header{"Cache-Control": {"max-age=60, publ\u0130c"}},
			http.Header{"Cache-Control": {"max-age=60, publxc"}},
			true, []string{"Authorization", "Bearer a"}},
		{"Vary member that is not a field name", // like "*": never reused
			http.Header{"Cache-Control": {"max-age=60"}, "Vary": {"X-\u0130d"}},
			http.Header{"Cache-Control": {"max-age=60"}, "Vary": {"X-I@d"}},
			false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hits := func(h http.Header) bool {
				hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
					for k, v := range h {
						w.Header()[k] = v
					}
					fmt.Fprint(w, "body")
				}, WithShared(c.shared))
				hs.get("/x", c.request...)
				hs.transport.Close() // the write landed
				return hs.get("/x", c.request...).cache.Hit
			}
			u, a := hits(c.unicode), hits(c.ascii)
			if u != a {
				t.Errorf("second request a hit: %v with the Unicode spelling, %v with an ASCII unknown one", u, a)
			}
		})
	}
}
