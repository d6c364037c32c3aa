package httpcache

import (
	"net/http"
	"slices"
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
		{name: "§5.4 Pragma: no-cache without Cache-Control", pairs: []string{"Pragma", "no-cache"},
			check: func(r cacheRequest) bool { return r.directives.noCache }},
		{name: "§5.4 Pragma ignored beside Cache-Control", pairs: []string{"Pragma", "no-cache", "Cache-Control", "max-age=5"},
			check: func(r cacheRequest) bool { return !r.directives.noCache && r.directives.maxAge.seconds == 5 }},
		{name: "§5.4 Pragma member among others", pairs: []string{"Pragma", "x, No-Cache"}, check: func(r cacheRequest) bool { return r.directives.noCache }},
		{name: "Cache-Control present", pairs: []string{"Cache-Control", ""}, check: func(r cacheRequest) bool { return r.directives.present }},
		{name: "one range is answered from storage", pairs: []string{"Range", "bytes=0-1"},
			check: func(r cacheRequest) bool { return r.hasRange && r.singleRange && !r.bypass() }},
		{name: "several ranges bypass", pairs: []string{"Range", "bytes=0-1, 4-5"}, check: func(r cacheRequest) bool { return r.hasRange && r.bypass() }},
		{name: "§5.2.1.5 no-store bypasses", pairs: []string{"Cache-Control", "no-store"}, check: func(r cacheRequest) bool { return r.bypass() }},
		{name: "a body bypasses", body: "q", check: func(r cacheRequest) bool { return r.hasBody && r.bypass() }},
		{name: "Authorization is a credential", pairs: []string{"Authorization", "Bearer x"}, check: func(r cacheRequest) bool { return r.hasCredentials }},
		{name: "Cookie is a credential", pairs: []string{"Cookie", "a=b"}, check: func(r cacheRequest) bool { return r.hasCredentials }},
		{name: "If-None-Match makes it conditional", pairs: []string{"If-None-Match", `"x"`}, check: func(r cacheRequest) bool { return r.conditional }},
		{name: "If-Modified-Since makes it conditional", pairs: []string{"If-Modified-Since", httpDate(epoch)},
			check: func(r cacheRequest) bool { return r.conditional }},
		{name: "a plain request", pairs: []string{"Accept", "*/*"}, check: func(r cacheRequest) bool {
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

// TestCredentialFields: every default credential field counts, under a
// map key of any case (net/http sends a non-canonical key as it is), and
// puts the request in a partition; nothing else does.
func TestCredentialFields(t *testing.T) {
	for _, name := range DefaultCredentialFields {
		for _, key := range []string{name, strings.ToLower(name), strings.ToUpper(name)} {
			req := &http.Request{Header: http.Header{key: {"secret"}}}
			r := readRequest(req)
			if !r.hasCredentials || testPartitioner.keySuffix(req, &r) == "" {
				t.Errorf("%s (as %q) is not counted as a credential", name, key)
			}
		}
	}
	plain := &http.Request{Header: http.Header{"Accept": {"x"}}}
	if r := readRequest(plain); r.hasCredentials || testPartitioner.keySuffix(plain, &r) != "" {
		t.Error("a request without credentials counted as having some")
	}
}

// TestNonCanonicalFieldNames: the cache reads a request's fields as the
// origin would, whatever the case of their map keys.
func TestNonCanonicalFieldNames(t *testing.T) {
	req := &http.Request{Header: http.Header{"cache-control": {"no-store"}}}
	if r := readRequest(req); !r.bypass() {
		t.Error("a lower-case cache-control: no-store was not seen")
	}
	req = &http.Request{Header: http.Header{"if-none-match": {`"x"`}}}
	if !readRequest(req).conditional {
		t.Error("a lower-case if-none-match was not seen")
	}
}

// TestPartitionOfManyCredentials: a request with more credential fields
// than a cacheRequest notes is fingerprinted from a scan, in the same
// order whatever the map's, and told apart from one with other values.
func TestPartitionOfManyCredentials(t *testing.T) {
	build := func(cookie string) *http.Request {
		return &http.Request{Header: http.Header{
			"Authorization": {"a"}, "cookie": {cookie}, "X-Api-Key": {"k"}, "x-auth-token": {"t"}, "Api-Key": {"b"},
		}}
	}
	suffix := func(req *http.Request) string {
		r := readRequest(req)
		if !r.credentialsOverflow {
			t.Fatal("five credential fields fit in the notes")
		}
		return testPartitioner.keySuffix(req, &r)
	}
	first := suffix(build("s=1"))
	for range 20 { // maps range in a new order each time
		if got := suffix(build("s=1")); got != first {
			t.Fatal("the same request got another partition")
		}
	}
	if suffix(build("s=2")) == first {
		t.Fatal("another cookie got the same partition")
	}
}

// FuzzKeptSuffixMatch: a kept key suffix, computed from sendable values,
// matches a request only when its credential values and hook name are the
// ones it was computed from. A match skips the check for unsendable
// values (partitioner.matches), so a value with a NUL that spells the
// kept input ("a NUL X-Api-Key NUL b") must never match.
func FuzzKeptSuffixMatch(f *testing.F) {
	f.Add("a", "b", "", "a\x00X-Api-Key\x00b", "", "")
	f.Add("a", "b", "t", "a", "b", "t")
	f.Add("a", "", "b\x00partition\x00t", "a\x00\x00partition\x00b", "", "t")
	f.Add("x", "y", "", "x", "y\x00", "")
	f.Fuzz(func(t *testing.T, keptAuth, keptKey, keptName, auth, key, name string) {
		p := newPartitioner(slices.Clone(DefaultCredentialFields), nil, newPartitionSecret(), true)
		credentials := func(auth, key string) []notedCredential {
			var c []notedCredential
			if auth != "" {
				c = append(c, notedCredential{field: p.fieldIndex("Authorization"), values: []string{auth}})
			}
			if key != "" {
				c = append(c, notedCredential{field: p.fieldIndex("X-Api-Key"), values: []string{key}})
			}
			return c
		}
		kept := credentials(keptAuth, keptKey)
		if unsendableCredentials(kept) || len(kept) == 0 && keptName == "" {
			return // never kept
		}
		p.newKeySuffix(p.inputHash(kept, keptName), kept, keptName)
		latest := p.latest.Load()
		if latest == nil {
			return // too long to keep
		}
		if p.matches(latest, credentials(auth, key), name) && (auth != keptAuth || key != keptKey || name != keptName) {
			t.Fatalf("kept (%q, %q, %q) matched (%q, %q, %q)", keptAuth, keptKey, keptName, auth, key, name)
		}
	})
}

// TestNoHookNameSpellsADialledServer: a hook's name never gives the
// partition of another server dialled for a Host (withDialTarget): one
// that spells the joined form is escaped.
func TestNoHookNameSpellsADialledServer(t *testing.T) {
	var name string
	p := newPartitioner(slices.Clone(DefaultCredentialFields), func(*http.Request) string { return name }, newPartitionSecret(), true)
	suffix := func(rawURL, host, hookName string) string {
		req := must(http.NewRequest(http.MethodGet, rawURL, nil))
		req.Host, name = host, hookName
		r := readRequest(req)
		return p.keySuffix(req, &r)
	}
	dialled := suffix("http://10.0.0.1/x", "victim.example", "tenant")
	spelled := suffix("http://victim.example/x", "", "\x00dial\x0010.0.0.1\x00tenant")
	if dialled == "" || dialled == spelled {
		t.Fatalf("a hook's name spelled the partition of a dialled server: %q", dialled)
	}
	if suffix("http://victim.example/x", "", "tenant") == dialled {
		t.Fatal("the dialled server named no partition")
	}
}

// TestEqualFoldASCII: field names, tokens, schemes and hosts fold in ASCII
// only (RFC 9110 §5.1); Unicode's folds of K (Kelvin sign) and s (long s)
// name other fields.
func TestEqualFoldASCII(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"X-Request-Id", "x-request-id", true},
		{"X-Request-Id", "X-REQUEST-ID", true},
		{"", "", true},
		{"X-Request-Id", "X-Request-I", false},
		{"X-Request-Id", "x-reque\u017ft-id", false},
		{"X-Api-Key", "x-api-\u212aey", false},
		{"a[", "A{", false}, // '[' and '{' differ by the case bit, but are not letters
	} {
		if got := equalFoldASCII(tc.a, tc.b); got != tc.want {
			t.Errorf("equalFoldASCII(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
