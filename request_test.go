package httpcache

import (
	"net/http"
	"strings"
	"testing"
)

func TestReadRequest(t *testing.T) {
	tests := []struct {
		name  string
		pairs []string
		body  string
		check func(cacheRequest) bool
	}{
		{"§5.4 Pragma: no-cache without Cache-Control", []string{"Pragma", "no-cache"}, "", func(r cacheRequest) bool { return r.directives.noCache }},
		{"§5.4 Pragma ignored beside Cache-Control", []string{"Pragma", "no-cache", "Cache-Control", "max-age=5"}, "",
			func(r cacheRequest) bool { return !r.directives.noCache && r.directives.maxAge.seconds == 5 }},
		{"§5.4 Pragma member among others", []string{"Pragma", "x, No-Cache"}, "", func(r cacheRequest) bool { return r.directives.noCache }},
		{"Cache-Control present", []string{"Cache-Control", ""}, "", func(r cacheRequest) bool { return r.directives.present }},
		{"Range", []string{"Range", "bytes=0-1"}, "", func(r cacheRequest) bool { return r.hasRange && r.bypass() }},
		{"§5.2.1.5 no-store bypasses", []string{"Cache-Control", "no-store"}, "", func(r cacheRequest) bool { return r.bypass() }},
		{"a body bypasses", nil, "q", func(r cacheRequest) bool { return r.hasBody && r.bypass() }},
		{"Authorization is a credential", []string{"Authorization", "Bearer x"}, "", func(r cacheRequest) bool { return r.hasCredentials }},
		{"Cookie is a credential", []string{"Cookie", "a=b"}, "", func(r cacheRequest) bool { return r.hasCredentials }},
		{"If-None-Match makes it conditional", []string{"If-None-Match", `"x"`}, "", func(r cacheRequest) bool { return r.conditional }},
		{"If-Modified-Since makes it conditional", []string{"If-Modified-Since", httpDate(epoch)}, "", func(r cacheRequest) bool { return r.conditional }},
		{"a plain request", []string{"Accept", "*/*"}, "", func(r cacheRequest) bool {
			return !r.bypass() && !r.hasCredentials && !r.conditional && !r.directives.present
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, "http://example.com/", nil)
			if tt.body != "" {
				req, _ = http.NewRequest(http.MethodGet, "http://example.com/", strings.NewReader(tt.body))
			}
			req.Header = header(tt.pairs...)
			if r := readRequest(req); !tt.check(r) {
				t.Errorf("readRequest = %+v", r)
			}
		})
	}
}

// TestCredentialFieldsAgree keeps readRequest's switch in step with
// credentialFields, which keys and fingerprints use.
func TestCredentialFieldsAgree(t *testing.T) {
	for _, name := range credentialFields {
		req := &http.Request{Header: http.Header{name: {"secret"}}}
		if !readRequest(req).hasCredentials || !hasCredentials(req) {
			t.Errorf("%s is not counted as a credential everywhere", name)
		}
	}
	plain := &http.Request{Header: http.Header{"Accept": {"x"}}}
	if readRequest(plain).hasCredentials || hasCredentials(plain) {
		t.Error("a request without credentials counted as having some")
	}
}
