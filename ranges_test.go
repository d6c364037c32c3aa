package httpcache

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseSingleRange(t *testing.T) {
	tests := []struct {
		value string
		want  byteRange
		ok    bool
	}{
		{value: "bytes=0-9", want: byteRange{first: 0, last: 9}, ok: true},
		{value: "bytes=5-", want: byteRange{first: 5, last: -1}, ok: true},
		{value: "bytes=-3", want: byteRange{first: -1, last: -1, suffix: 3}, ok: true},
		{value: "bytes=9-0"},
		{value: "bytes=0-1,3-4"},
		{value: "items=0-1"},
		{value: "bytes=-0"},
		{value: "bytes=a-b"},
		{value: "bytes=99999999999999999999999-"},
	}
	for _, tt := range tests {
		got, ok := parseSingleRange(tt.value)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("RFC 9110 §14.1.2 parseSingleRange(%q) = %+v, %v; want %+v, %v", tt.value, got, ok, tt.want, tt.ok)
		}
	}
}

// TestRangesFromStoredResponses: RFC 9111 §3.4 and RFC 9110 §14: a single
// range is answered 206 from a fresh stored 200, an unsatisfiable one 416,
// and one whose If-Range does not name the stored response with the whole
// response; nothing partial is stored.
func TestRangesFromStoredResponses(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"v1"`)
		fmt.Fprint(w, "0123456789")
	})
	h.get("/r")
	tests := []struct {
		name               string
		pairs              []string
		status             int
		body, contentRange string
	}{
		{name: "first-last", pairs: []string{"Range", "bytes=2-4"}, status: 206, body: "234", contentRange: "bytes 2-4/10"},
		{name: "open-ended", pairs: []string{"Range", "bytes=7-"}, status: 206, body: "789", contentRange: "bytes 7-9/10"},
		{name: "suffix", pairs: []string{"Range", "bytes=-2"}, status: 206, body: "89", contentRange: "bytes 8-9/10"},
		{name: "past the end", pairs: []string{"Range", "bytes=5-99"}, status: 206, body: "56789", contentRange: "bytes 5-9/10"},
		{name: "unsatisfiable", pairs: []string{"Range", "bytes=10-"}, status: 416, body: "", contentRange: "bytes */10"},
		{name: "If-Range names it", pairs: []string{"Range", "bytes=0-0", "If-Range", `"v1"`}, status: 206, body: "0", contentRange: "bytes 0-0/10"},
		{name: "If-Range names another", pairs: []string{"Range", "bytes=0-0", "If-Range", `"v0"`}, status: 200, body: "0123456789"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := h.get("/r", tt.pairs...)
			if got.status != tt.status || got.body != tt.body || got.header.Get("Content-Range") != tt.contentRange || !got.cache.Hit {
				t.Fatalf("%d %q Content-Range %q %+v", got.status, got.body, got.header.Get("Content-Range"), got.cache)
			}
			if want := fmt.Sprint(len(tt.body)); got.header.Get("Content-Length") != want && tt.status != 200 {
				t.Fatalf("Content-Length %q, want %s", got.header.Get("Content-Length"), want)
			}
		})
	}
	if got := h.get("/r"); got.status != 200 || got.body != "0123456789" {
		t.Fatalf("the stored response after the ranges: %d %q", got.status, got.body)
	}
	h.wantOriginRequests(1)
}

// TestRangesOfAnEmptyBody: of an empty representation, only a suffix
// range is satisfiable (RFC 9110 §14.1.1), and no 206 can express it: the
// whole, empty, 200 answers it. Any other range is a 416.
func TestRangesOfAnEmptyBody(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
	})
	h.get("/e")
	for _, tt := range []struct {
		rangeValue string
		status     int
	}{
		{"bytes=-5", 200},
		{"bytes=0-", 416},
		{"bytes=0-0", 416},
	} {
		got := h.get("/e", "Range", tt.rangeValue)
		if got.status != tt.status || got.body != "" || !got.cache.Hit {
			t.Errorf("Range: %s: %d %q (Content-Range %q), want %d", tt.rangeValue, got.status, got.body, got.header.Get("Content-Range"), tt.status)
		}
	}
	h.wantOriginRequests(1)
}

// only-if-cached forbids the network (RFC 9111 §5.2.1.7), for a Range
// request with nothing stored as for any other. (Found by review.)
func TestRangeOnlyIfCachedNeverGoesToOrigin(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page") })
	for _, ranges := range []string{"bytes=0-1", "bytes=0-1,4-5"} {
		got := h.get("/r", "Range", ranges, "Cache-Control", "only-if-cached")
		if got.status != http.StatusGatewayTimeout {
			t.Errorf("%s: status %d, want 504", ranges, got.status)
		}
	}
	h.wantOriginRequests(0)
}

// TestRangeForwardReasons: a Range the cache cannot answer goes to the
// origin with the reason it could not (RFC 9211 §2.2), never as a bypass:
// stale (fwd=stale), or fresh but streamed from a file, whose checksum a
// range may not reach (fwd=miss).
func TestRangeForwardReasons(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, strings.Repeat("0123456789", 20<<10)) // streamed from the file
	}, WithStorage(must(NewDiskStorage(t.TempDir(), 0))), WithSynchronousWrites(true))
	h.get("/r")
	if got := h.get("/r", "Range", "bytes=0-1"); got.cache.Forward != ForwardMiss {
		t.Errorf("fresh, streamed: Cache-Status %q", got.header.Get("Cache-Status"))
	}
	h.clock.Advance(2 * time.Minute)
	if got := h.get("/r", "Range", "bytes=0-1"); got.cache.Forward != ForwardStale {
		t.Errorf("stale: Cache-Status %q", got.header.Get("Cache-Status"))
	}
	if st := h.transport.Stats().Requests; st.Bypassed != 0 {
		t.Errorf("%d ranges counted as bypassed", st.Bypassed)
	}
}

// TestConditionalFieldsAsTheOriginReadsThem: a conditional or range
// request answered from storage gets what the origin would answer it
// (http.ServeContent here), whatever the case of its header map keys:
// net/http sends "if-range" as it is and the origin reads it as If-Range.
// An If-Range date answers with a range only when the stored
// Last-Modified is strong: a second or more before Date (RFC 9110 §13.1.5,
// §8.8.2.2).
func TestConditionalFieldsAsTheOriginReadsThem(t *testing.T) {
	modified := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	weakDate := time.Now().UTC().Truncate(time.Second)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("ETag", `"v1"`)
		lastModified := modified
		if r.URL.Path == "/weak" {
			// Modified in the second of its Date: a weak validator, which
			// the origin, following §13.1.5, never matches If-Range with.
			lastModified = weakDate
			w.Header().Set("Date", weakDate.Format(http.TimeFormat))
			if r.Header.Get("If-Range") != "" {
				w.Header().Set("Last-Modified", lastModified.Format(http.TimeFormat))
				io.WriteString(w, "0123456789")
				return
			}
		}
		http.ServeContent(w, r, "", lastModified, strings.NewReader("0123456789"))
	}))
	defer origin.Close()
	tr := New()
	defer tr.Close()
	do := func(rt http.RoundTripper, path string, fields map[string]string) (int, string) {
		req := must(http.NewRequest(http.MethodGet, origin.URL+path, nil))
		for key, value := range fields {
			req.Header[key] = []string{value}
		}
		resp, body := send(t, rt, req)
		return resp.StatusCode, body
	}
	for _, path := range []string{"/strong", "/weak"} {
		do(tr, path, nil) // stored
	}
	date := func(t time.Time) string { return t.Format(http.TimeFormat) }
	tests := []struct {
		name   string
		path   string
		fields map[string]string
		want   int
	}{
		{"If-Range with another ETag", "/strong", map[string]string{"Range": "bytes=0-3", "If-Range": `"v0"`}, 200},
		{"if-range with another ETag", "/strong", map[string]string{"range": "bytes=0-3", "if-range": `"v0"`}, 200},
		{"If-Range with the ETag", "/strong", map[string]string{"Range": "bytes=0-3", "If-Range": `"v1"`}, 206},
		{"if-range with the ETag", "/strong", map[string]string{"Range": "bytes=0-3", "if-range": `"v1"`}, 206},
		{"If-Range with a strong date", "/strong", map[string]string{"Range": "bytes=0-3", "If-Range": date(modified)}, 206},
		{"If-Range with a weak date", "/weak", map[string]string{"Range": "bytes=0-3", "If-Range": date(weakDate)}, 200},
		{"if-none-match", "/strong", map[string]string{"if-none-match": `"v1"`}, 304},
		{"IF-NONE-MATCH another", "/strong", map[string]string{"IF-NONE-MATCH": `"v0"`}, 200},
		{"if-modified-since", "/strong", map[string]string{"if-modified-since": date(modified)}, 304},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			originStatus, originBody := do(http.DefaultTransport, tt.path, tt.fields)
			status, body := do(tr, tt.path, tt.fields)
			if originStatus != tt.want {
				t.Fatalf("the origin answered %d, the test expects %d", originStatus, tt.want)
			}
			if status != originStatus || body != originBody {
				t.Fatalf("the cache answered %d %q; the origin %d %q", status, body, originStatus, originBody)
			}
		})
	}
}
