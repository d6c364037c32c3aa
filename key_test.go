package httpcache

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestCacheKey(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"RFC 9110 §4.2.3 scheme and host are case-insensitive", "HTTP://Example.COM/a", "http://example.com/a"},
		{"RFC 9110 §4.2.3 default http port dropped", "http://example.com:80/a", "http://example.com/a"},
		{"RFC 9110 §4.2.3 default https port dropped", "https://example.com:443/a", "https://example.com/a"},
		{"other port kept", "https://example.com:8443/a", "https://example.com:8443/a"},
		{"RFC 9110 §4.2.3 empty path is /", "https://example.com", "https://example.com/"},
		{"path case kept", "https://example.com/A", "https://example.com/A"},
		{"query kept as sent", "https://example.com/a?b=1&a=2", "https://example.com/a?b=1&a=2"},
		{"fragment dropped", "https://example.com/a#frag", "https://example.com/a"},
		{"escaped path kept escaped", "https://example.com/a%2Fb", "https://example.com/a%2Fb"},
		{"non-ASCII path escaped", "https://example.com/ü", "https://example.com/%C3%BC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			if got := cacheKey(u); got != tt.want {
				t.Errorf("cacheKey(%s) = %q, want %q", tt.url, got, tt.want)
			}
		})
	}
}

// TestCacheKeyPathIsEscapedPath holds the fast path of cacheKey to the
// standard library's EscapedPath for every printable byte.
func TestCacheKeyPathIsEscapedPath(t *testing.T) {
	for c := 0x20; c < 0x80; c++ {
		u := &url.URL{Scheme: "https", Host: "h", Path: "/a" + string(rune(c)) + "b"}
		if got, want := cacheKey(u), "https://h"+u.EscapedPath(); got != want {
			t.Errorf("byte %q: cacheKey %q, EscapedPath gives %q", rune(c), got, want)
		}
	}
}

func TestRequestVariant(t *testing.T) {
	req := func(pairs ...string) *http.Request {
		return &http.Request{Header: header(pairs...), URL: &url.URL{Scheme: "https", Host: "h", Path: "/"}}
	}
	tests := []struct {
		name    string
		a, b    *http.Request
		vary    []string
		private bool
		same    bool
	}{
		{name: "§4.1 same value", a: req("Accept", "a"), b: req("Accept", "a"), vary: []string{"accept"}, same: true},
		{name: "§4.1 different value", a: req("Accept", "a"), b: req("Accept", "b"), vary: []string{"accept"}, same: false},
		{name: "§4.1 absent differs from empty", a: req(), b: req("Accept", ""), vary: []string{"accept"}, same: false},
		{name: "§4.1 white space around members", a: req("Accept", "a,b"), b: req("Accept", " a , b "), vary: []string{"accept"}, same: true},
		{name: "§4.1 field lines combine", a: req("Accept", "a, b"), b: req("Accept", "a", "Accept", "b"), vary: []string{"accept"}, same: true},
		{name: "§4.1 case folded where defined case-insensitive", a: req("Accept-Encoding", "GZIP"), b: req("Accept-Encoding", "gzip"), vary: []string{"accept-encoding"},
			same: true},
		{name: "§4.1 case kept elsewhere", a: req("X-Id", "A"), b: req("X-Id", "a"), vary: []string{"x-id"}, same: false},
		{name: "§4.1 a quoted comma is the member's own", a: req("X-Id", `"a, b"`), b: req("X-Id", `"a,b"`), vary: []string{"x-id"}, same: false},
		{name: "§4.1 a quoted string is one member", a: req("X-Id", `"a, b"`), b: req("X-Id", `"a`, "X-Id", `b"`), vary: []string{"x-id"}, same: false},
		{name: "§4.1 an unterminated quote does not join lines", a: req("X-Id", `"a,b"`), b: req("X-Id", `"a`, "X-Id", `b"`), vary: []string{"x-id"}, same: false},
		{name: "§4.1 a quoted-pair escapes the quote", a: req("X-Id", `"a\", b"`), b: req("X-Id", `"a\",b"`), vary: []string{"x-id"}, same: false},
		{name: "§4.1 white space around quoted members", a: req("X-Id", `"a, b" , c`), b: req("X-Id", `"a, b",c`), vary: []string{"x-id"}, same: true},
		{name: "a control byte cannot spell another field", a: req("A", "1", "B", "2"), b: req("A", "1\nb:2"), vary: []string{"a", "b"}, same: false},
		{name: "a control byte is not white space", a: req("X-Id", "a"), b: req("X-Id", "a\x00"), vary: []string{"x-id"}, same: false},
		{name: "fields not in Vary do not count", a: req("Accept", "a", "X", "1"), b: req("Accept", "a", "X", "2"), vary: []string{"accept"}, same: true},
		{name: "private cache: credentials count", a: req("Authorization", "a"), b: req("Authorization", "b"), private: true, same: false},
		{name: "shared cache: credentials count too", a: req("Authorization", "a"), b: req("Authorization", "b"), same: false},
		{name: "an API key counts", a: req("X-Api-Key", "a"), b: req("X-Api-Key", "b"), private: true, same: false},
		{name: "an API key differs from none", a: req("X-Api-Key", "a"), b: req(), same: false},
		{name: "a credential under a lower-case map key counts", a: req(), b: &http.Request{Header: http.Header{"authorization": {"a"}}, URL: &url.URL{Scheme: "https", Host: "h", Path: "/"}}, same: false},
		{name: "Vary: Cookie in one partition", a: req("Cookie", "s=1"), b: req("Cookie", "s=1"), vary: []string{"cookie"}, same: true},
		{name: "private cache: cookies count", a: req("Cookie", "session=a"), b: req("Cookie", "session=b"), private: true, same: false},
		{name: "private cache: a cookie differs from none", a: req("Cookie", "session=a"), b: req(), private: true, same: false},
		{name: "private cache: same credentials match", a: req("Authorization", "a", "Cookie", "c=1"), b: req("Authorization", "a", "Cookie", "c=1"), private: true,
			same: true},
		{name: "private cache: Authorization and Cookie do not swap", a: req("Authorization", "x"), b: req("Cookie", "x"), private: true, same: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := variantOf(tt.a, tt.vary, tt.private), variantOf(tt.b, tt.vary, tt.private)
			if (a == b) != tt.same {
				t.Errorf("variants %q and %q: same = %v, want %v", a, b, a == b, tt.same)
			}
		})
	}
}

// variantOf is what tells a response to req apart from others of its URL,
// for a response whose Vary names vary, in a private or a shared cache:
// its variant and its partition.
func variantOf(req *http.Request, vary []string, private bool) string {
	x := New(WithShared(!private), WithPartitionSecret([]byte("0123456789abcdef"))).newExchange(req)
	return x.variant(vary) + "\npartition:" + x.keySuffix
}

// FuzzVary checks the Vary parser's output and that a request always
// matches the variant computed from itself.
func FuzzVary(f *testing.F) {
	f.Add("Accept-Encoding, accept-language", "gzip, br")
	f.Add(" ,*, x", "")
	f.Add("a, b", "1\nb:2")
	f.Add("x", `"a, b", "c\", d`)
	f.Fuzz(func(t *testing.T, vary, value string) {
		names, _ := varyFieldNames(http.Header{"Vary": {vary}})
		for i, name := range names {
			if name == "" || name == "*" || strings.ContainsAny(name, ", \t") || strings.ToLower(name) != name {
				t.Fatalf("bad field name %q from %q", name, vary)
			}
			if i > 0 && names[i-1] >= name {
				t.Fatalf("names not sorted and unique: %q", names)
			}
		}
		req := &http.Request{Header: http.Header{}}
		for _, name := range names {
			req.Header[http.CanonicalHeaderKey(name)] = []string{value}
		}
		x := New().newExchange(req)
		stored := &Entry{StatusCode: 200, Header: http.Header{"Vary": {vary}}, Variant: x.variant(names)}
		// One line per name: no value can spell another field's part.
		if lines := strings.Count(stored.Variant, "\n"); lines != len(names) {
			t.Fatalf("variant %q has %d lines for the %d names of Vary %q", stored.Variant, lines, len(names), vary)
		}
		if _, star := varyFieldNames(stored.Header); !star && !x.variantMatches(stored) {
			t.Fatalf("a request does not match the variant stored from it (Vary %q, value %q)", vary, value)
		}
	})
}

// TestVaryReadsLinesInWireOrder: lines of one field under keys that differ
// in case are read in the order net/http writes them (by key), so that a
// request is matched with the variant its origin made for it.
func TestVaryReadsLinesInWireOrder(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Vary", "Accept-Language")
		io.WriteString(w, "for "+strings.Join(r.Header.Values("Accept-Language"), ", "))
	}))
	defer origin.Close()
	tr := New()
	defer tr.Close()
	get := func(h http.Header) string {
		req := must(http.NewRequest(http.MethodGet, origin.URL, nil))
		req.Header = h
		_, body := send(t, tr, req)
		return body
	}
	if got := get(http.Header{"Accept-Language": {"fr"}, "ACCEPT-LANGUAGE": {"de"}}); got != "for de, fr" {
		t.Fatalf("the origin answered %q: net/http no longer writes keys in order", got)
	}
	if got := get(http.Header{"Accept-Language": {"fr", "de"}}); got != "for fr, de" {
		t.Fatalf("a request for fr, de got %q: another variant's response", got)
	}
	if got := get(http.Header{"Accept-Language": {"de", "fr"}}); got != "for de, fr" {
		t.Fatalf("a request for de, fr got %q", got)
	}
}
