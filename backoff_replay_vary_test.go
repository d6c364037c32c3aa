package httpcache

import (
	"net/http"
	"strings"
	"testing"
)

// A 429 with Retry-After that says Vary: X-Tenant answers tenant acme's
// request only. During the back-off, a request of tenant globex for the
// same URL (same key: X-Tenant is no credential field) gets the status
// alone, not acme's header and body (promise 1, RFC 9111 §4.1); acme's
// next request gets its answer whole.
func TestBackoffReplayHonoursVary(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		tenant := req.Header.Get("X-Tenant")
		return scriptedReply{status: 429, header: header("Retry-After", "60", "Vary", "X-Tenant", "X-Quota-Owner", tenant),
			body: "quota exhausted for tenant " + tenant, length: -2}
	})
	first := r.do("GET", "/v1/report", "X-Tenant", "acme")
	if first.status != 429 || !strings.Contains(first.body, "acme") {
		t.Fatalf("set-up: %d %q", first.status, first.body)
	}
	got := r.do("GET", "/v1/report", "X-Tenant", "globex")
	if strings.Contains(got.body, "acme") || got.header.Get("X-Quota-Owner") == "acme" {
		t.Fatalf("tenant globex got tenant acme's 429 replayed: body %q, X-Quota-Owner %q, Cache-Status %q",
			got.body, got.header.Get("X-Quota-Owner"), got.header.Get("Cache-Status"))
	}
	again := r.do("GET", "/v1/report", "X-Tenant", "acme")
	if again.status != 429 || again.body != first.body || again.header.Get("X-Quota-Owner") != "acme" {
		t.Fatalf("tenant acme's answer was not replayed whole to acme: %d %q %q", again.status, again.body, again.header.Get("Cache-Status"))
	}
	if len(r.sent) != 1 {
		t.Fatalf("origin saw %d requests during the back-off", len(r.sent))
	}
}

// A gzip-coded 429 the origin sent to a caller that asked for gzip is not
// replayed, coded, to a caller of the same URL that accepts no coding (RFC
// 9110 §12.5.3): a coded body varies on Accept-Encoding, as it does in
// storage.
func TestBackoffReplayHonoursAcceptEncoding(t *testing.T) {
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		return scriptedReply{status: 429, header: header("Retry-After", "60", "Content-Encoding", "gzip", "Vary", "Accept-Encoding"),
			body: "\x1f\x8b\x08\x00gzipped", length: -2}
	})
	r.do("GET", "/v1/report", "Accept-Encoding", "gzip")
	got := r.do("GET", "/v1/report")
	if got.header.Get("Content-Encoding") == "gzip" || strings.HasPrefix(got.body, "\x1f\x8b") {
		t.Fatalf("a caller that accepts no coding got the gzip-coded 429 replayed: Content-Encoding %q body %q",
			got.header.Get("Content-Encoding"), got.body)
	}
}
