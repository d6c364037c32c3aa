package httpcache

import (
	"maps"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestFreshnessLifetime(t *testing.T) {
	tests := []struct {
		name   string
		shared bool
		status int
		header http.Header
		want   time.Duration
	}{
		{"§4.2.1 max-age", false, 200, header("Cache-Control", "max-age=60"), time.Minute},
		{"§4.2.1 s-maxage ignored by a private cache", false, 200, header("Cache-Control", "max-age=60, s-maxage=600"), time.Minute},
		{"§4.2.1 s-maxage wins in a shared cache", true, 200, header("Cache-Control", "max-age=60, s-maxage=600"), 10 * time.Minute},
		{"§4.2.1 max-age wins over Expires", false, 200, header("Cache-Control", "max-age=60", "Date", httpDate(epoch), "Expires", httpDate(epoch.Add(time.Hour))), time.Minute},
		{"§4.2.1 Expires minus Date", false, 200, header("Date", httpDate(epoch), "Expires", httpDate(epoch.Add(time.Hour))), time.Hour},
		{"§4.2.1 Expires without Date counts from the response time", false, 200, header("Expires", httpDate(epoch.Add(2*time.Hour))), 2 * time.Hour},
		{"§5.3 invalid Expires means stale", false, 200, header("Date", httpDate(epoch), "Expires", "0"), 0},
		{"§5.3 Expires before Date is stale", false, 200, header("Date", httpDate(epoch), "Expires", httpDate(epoch.Add(-time.Hour))), 0},
		{"§4.2.1 invalid max-age means stale", false, 200, header("Cache-Control", "max-age=abc", "Expires", httpDate(epoch.Add(time.Hour))), 0},
		{"§4.2.1 first of duplicate max-age counts", false, 200, header("Cache-Control", "max-age=60, max-age=3600"), time.Minute},
		{"§5.2 quoted max-age accepted", false, 200, header("Cache-Control", `max-age="120"`), 2 * time.Minute},
		{"§1.2.2 overflowing delta-seconds capped at 2^31", false, 200, header("Cache-Control", "max-age=99999999999999999999"), maxDeltaSeconds * time.Second},
		{"§4.2.2 heuristic: 10% of time since Last-Modified", false, 200, header("Date", httpDate(epoch), "Last-Modified", httpDate(epoch.Add(-10*time.Hour))), time.Hour},
		{"§4.2.2 heuristic capped", false, 200, header("Date", httpDate(epoch), "Last-Modified", httpDate(epoch.Add(-1000*24*time.Hour))), 24 * time.Hour},
		{"§4.2.2 no heuristic for a status not heuristically cacheable", false, 302, header("Date", httpDate(epoch), "Last-Modified", httpDate(epoch.Add(-10*time.Hour))), 0},
		{"§4.2.2 heuristic allowed by public", false, 302, header("Cache-Control", "public", "Date", httpDate(epoch), "Last-Modified", httpDate(epoch.Add(-10*time.Hour))), time.Hour},
		{"§4.2.2 no Last-Modified, no heuristic", false, 200, header("Date", httpDate(epoch)), 0},
		{"§4.2.2 heuristic for 404", false, 404, header("Date", httpDate(epoch), "Last-Modified", httpDate(epoch.Add(-10*time.Hour))), time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy
			p.shared = tt.shared
			e := storedAt(tt.header)
			e.StatusCode = tt.status
			if got := p.freshnessLifetime(e, e.responseFacts()); got != tt.want {
				t.Errorf("freshnessLifetime = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCurrentAge(t *testing.T) {
	tests := []struct {
		name                      string
		header                    http.Header
		requestTime, responseTime time.Time
		now                       time.Time
		want                      time.Duration
	}{
		{"§4.2.3 resident time only", header("Date", httpDate(epoch)), epoch, epoch, epoch.Add(30 * time.Second), 30 * time.Second},
		{"§4.2.3 Age header adds", header("Date", httpDate(epoch), "Age", "100"), epoch, epoch, epoch.Add(10 * time.Second), 110 * time.Second},
		{"§4.2.3 apparent age from Date", header("Date", httpDate(epoch.Add(-50*time.Second))), epoch, epoch, epoch, 50 * time.Second},
		{"§4.2.3 response delay corrects Age", header("Date", httpDate(epoch), "Age", "10"), epoch.Add(-5 * time.Second), epoch, epoch, 15 * time.Second},
		{"§4.2.3 larger of apparent and corrected age", header("Date", httpDate(epoch.Add(-100*time.Second)), "Age", "10"), epoch, epoch, epoch, 100 * time.Second},
		{"§4.2.3 Date in the future gives no negative age", header("Date", httpDate(epoch.Add(time.Hour))), epoch, epoch, epoch, 0},
		{"§5.1 invalid Age ignored", header("Date", httpDate(epoch), "Age", "-3"), epoch, epoch, epoch, 0},
		{"§5.1 first Age value counts", header("Date", httpDate(epoch), "Age", "7, 100"), epoch, epoch, epoch, 7 * time.Second},
		{"§4.2.3 no Date", header(), epoch, epoch, epoch.Add(time.Second), time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Entry{StatusCode: 200, Header: tt.header, RequestTime: tt.requestTime, ResponseTime: tt.responseTime}
			if got := currentAge(e, e.responseFacts(), tt.now); got != tt.want {
				t.Errorf("currentAge = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStorable(t *testing.T) {
	get := func(pairs ...string) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, "http://example.com/x", nil)
		r.Header = header(pairs...)
		return r
	}
	head, _ := http.NewRequest(http.MethodHead, "http://example.com/x", nil)
	tests := []struct {
		name       string
		shared     bool
		req        *http.Request
		status     int
		header     http.Header
		want       bool
		wantReason string
	}{
		{"§3 max-age", false, get(), 200, header("Cache-Control", "max-age=60"), true, ""},
		{"§3 heuristically cacheable status", false, get(), 200, header(), true, ""},
		{"§3 other status needs explicit freshness", false, get(), 302, header(), false, detailStatus},
		{"§3 other status with max-age", false, get(), 302, header("Cache-Control", "max-age=60"), true, ""},
		{"§3 Expires makes it storable", false, get(), 307, header("Expires", httpDate(epoch)), true, ""},
		{"§3 206 not stored", false, get(), 206, header("Cache-Control", "max-age=60"), false, detailStatus},
		{"§3 304 not stored", false, get(), 304, header("Cache-Control", "max-age=60"), false, detailStatus},
		{"§3 HEAD not stored", false, head, 200, header("Cache-Control", "max-age=60"), false, detailMethod},
		{"§5.2.2.5 no-store", false, get(), 200, header("Cache-Control", "max-age=60, no-store"), false, detailNoStore},
		{"§5.2.1.5 request no-store", false, get("Cache-Control", "no-store"), 200, header("Cache-Control", "max-age=60"), false, detailRequestNoStore},
		{"§5.2.2.3 must-understand with known status overrides no-store", false, get(), 200, header("Cache-Control", "max-age=60, must-understand, no-store"), true, ""},
		{"§5.2.2.3 must-understand with unknown status", false, get(), 299, header("Cache-Control", "max-age=60, must-understand, no-store"), false, detailMustUnderstand},
		{"§5.2.2.7 private stored by a private cache", false, get(), 200, header("Cache-Control", "private, max-age=60"), true, ""},
		{"§5.2.2.7 private not stored by a shared cache", true, get(), 200, header("Cache-Control", "private, max-age=60"), false, detailPrivate},
		{"§5.2.2.7 qualified private stored by a shared cache", true, get(), 200, header("Cache-Control", `private="Set-Cookie", max-age=60`), true, ""},
		{"§3 private alone makes it storable in a private cache", false, get(), 302, header("Cache-Control", "private"), true, ""},
		{"§3.5 Authorization: shared cache refuses", true, get("Authorization", "Bearer x"), 200, header("Cache-Control", "max-age=60"), false, detailAuthorization},
		{"§3.5 Authorization: public allows", true, get("Authorization", "Bearer x"), 200, header("Cache-Control", "public, max-age=60"), true, ""},
		{"§3.5 Authorization: s-maxage allows", true, get("Authorization", "Bearer x"), 200, header("Cache-Control", "s-maxage=60"), true, ""},
		{"§3.5 Authorization: must-revalidate allows", true, get("Authorization", "Bearer x"), 200, header("Cache-Control", "must-revalidate, max-age=60"), true, ""},
		{"§3.5 Authorization: a private cache stores", false, get("Authorization", "Bearer x"), 200, header("Cache-Control", "max-age=60"), true, ""},
		{"§4.1 Vary: * is never stored", false, get(), 200, header("Cache-Control", "max-age=60", "Vary", "Accept, *"), false, detailVaryStar},
		{"§4.1 a Vary member that is no field name counts as *", false, get(), 200, header("Cache-Control", "max-age=60", "Vary", "Accept, a b"), false, detailVaryStar},
		{"§5.2.2.4 no-cache is stored (validated on use)", false, get(), 200, header("Cache-Control", "no-cache"), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy
			p.shared = tt.shared
			ok, reason := p.storable(tt.req, parseCacheControl(tt.req.Header), tt.status, parseResponseFacts(tt.header))
			if ok != tt.want || reason != tt.wantReason {
				t.Errorf("storable = %v, %q; want %v, %q", ok, reason, tt.want, tt.wantReason)
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name        string
		shared      bool
		reqHeader   http.Header
		respHeader  http.Header
		elapsed     time.Duration
		wantAction  action
		wantForward string
	}{
		{"§4.2 fresh is served", false, header(), header("Cache-Control", "max-age=60"), 30 * time.Second, actionServe, ""},
		{"§4.2 stale is validated", false, header(), header("Cache-Control", "max-age=60"), 61 * time.Second, actionRevalidate, "stale"},
		{"§4.2 age equal to lifetime is stale", false, header(), header("Cache-Control", "max-age=60"), 60 * time.Second, actionRevalidate, "stale"},
		{"§5.2.2.4 no-cache always validated", false, header(), header("Cache-Control", "no-cache, max-age=60"), 0, actionRevalidate, "stale"},
		{"§5.2.2.4 qualified no-cache is served when fresh", false, header(), header("Cache-Control", `no-cache="Set-Cookie", max-age=60`), 0, actionServe, ""},
		{"§5.2.1.4 request no-cache", false, header("Cache-Control", "no-cache"), header("Cache-Control", "max-age=60"), 0, actionRevalidate, "request"},
		{"§5.4 Pragma: no-cache without Cache-Control", false, header("Pragma", "no-cache"), header("Cache-Control", "max-age=60"), 0, actionRevalidate, "request"},
		{"§5.4 Pragma ignored when Cache-Control is present", false, header("Pragma", "no-cache", "Cache-Control", "max-stale=5"), header("Cache-Control", "max-age=60"), 0, actionServe, ""},
		{"§5.2.1.1 request max-age below age", false, header("Cache-Control", "max-age=10"), header("Cache-Control", "max-age=60"), 20 * time.Second, actionRevalidate, "request"},
		{"§5.2.1.1 request max-age above age", false, header("Cache-Control", "max-age=30"), header("Cache-Control", "max-age=60"), 20 * time.Second, actionServe, ""},
		{"§5.2.1.1 invalid request max-age means revalidate", false, header("Cache-Control", "max-age=x"), header("Cache-Control", "max-age=60"), time.Second, actionRevalidate, "request"},
		{"RFC 8246 immutable fresh ignores max-age=0", false, header("Cache-Control", "max-age=0"), header("Cache-Control", "max-age=60, immutable"), time.Second, actionServe, ""},
		{"RFC 8246 immutable does not survive no-cache", false, header("Cache-Control", "no-cache"), header("Cache-Control", "max-age=60, immutable"), time.Second, actionRevalidate, "request"},
		{"§5.2.1.3 min-fresh not met", false, header("Cache-Control", "min-fresh=50"), header("Cache-Control", "max-age=60"), 20 * time.Second, actionRevalidate, "request"},
		{"§5.2.1.3 min-fresh met", false, header("Cache-Control", "min-fresh=30"), header("Cache-Control", "max-age=60"), 20 * time.Second, actionServe, ""},
		{"§5.2.1.2 max-stale within bound", false, header("Cache-Control", "max-stale=30"), header("Cache-Control", "max-age=60"), 80 * time.Second, actionServe, ""},
		{"§5.2.1.2 max-stale exceeded", false, header("Cache-Control", "max-stale=10"), header("Cache-Control", "max-age=60"), 80 * time.Second, actionRevalidate, "stale"},
		{"§5.2.1.2 max-stale without value accepts any staleness", false, header("Cache-Control", "max-stale"), header("Cache-Control", "max-age=60"), 1000 * time.Hour, actionServe, ""},
		{"§5.2.2.2 must-revalidate forbids max-stale", false, header("Cache-Control", "max-stale"), header("Cache-Control", "max-age=60, must-revalidate"), 80 * time.Second, actionRevalidate, "stale"},
		{"§5.2.2.8 proxy-revalidate ignored by a private cache", false, header("Cache-Control", "max-stale"), header("Cache-Control", "max-age=60, proxy-revalidate"), 80 * time.Second, actionServe, ""},
		{"§5.2.2.8 proxy-revalidate forbids stale in a shared cache", true, header("Cache-Control", "max-stale"), header("Cache-Control", "max-age=60, proxy-revalidate"), 80 * time.Second, actionRevalidate, "stale"},
		{"§5.2.2.10 s-maxage forbids stale in a shared cache", true, header("Cache-Control", "max-stale"), header("Cache-Control", "s-maxage=60"), 80 * time.Second, actionRevalidate, "stale"},
		{"§4.2.2 heuristic freshness served", false, header(), header("Date", httpDate(epoch), "Last-Modified", httpDate(epoch.Add(-10*time.Hour))), 30 * time.Minute, actionServe, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy
			p.shared = tt.shared
			e := storedAt(tt.respHeader)
			d := p.evaluate(requestDirectives(tt.reqHeader), e, e.responseFacts(), epoch.Add(tt.elapsed))
			if d.action != tt.wantAction || d.forward != tt.wantForward {
				t.Errorf("evaluate = action %v fwd %q; want %v %q", d.action, d.forward, tt.wantAction, tt.wantForward)
			}
		})
	}
}

func TestMergeHeaders(t *testing.T) {
	stored := header("Content-Length", "5", "Content-Type", "text/plain", "ETag", `"a"`, "Cache-Control", "max-age=10", "X-Old", "1")
	update := header("Content-Length", "0", "Cache-Control", "max-age=99", "X-New", "2", "Connection", "X-Hop", "X-Hop", "h", "Keep-Alive", "timeout=5")
	got := mergeHeaders(storedAt(stored), update)
	tests := []struct {
		name, field, want string
	}{
		{"§3.2 updated field replaced", "Cache-Control", "max-age=99"},
		{"§3.2 new field added", "X-New", "2"},
		{"§3.2 field absent from the update kept", "X-Old", "1"},
		{"§3.2 Content-Length never updated", "Content-Length", "5"},
		{"§3.1 hop-by-hop field not merged", "Keep-Alive", ""},
		{"§3.1 Connection-listed field not merged", "X-Hop", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v := got.Get(tt.field); v != tt.want {
				t.Errorf("%s = %q, want %q", tt.field, v, tt.want)
			}
		})
	}
	if stored.Get("Cache-Control") != "max-age=10" {
		t.Error("mergeHeaders modified the stored header")
	}
}

// TestFreshenedFacts holds the facts a 304 carries over to the freshened
// entry to what parsing its merged header gives.
func TestFreshenedFacts(t *testing.T) {
	stored := header("Cache-Control", "max-age=10", "Date", "Sun, 06 Nov 1994 08:49:37 GMT", "ETag", `"a"`,
		"Last-Modified", "Sat, 05 Nov 1994 08:49:37 GMT", "Vary", "Accept", "Age", "3", "Content-Length", "5")
	tests := []struct {
		name   string
		update http.Header
	}{
		{"§4.3.4 same fields again", header("Cache-Control", "max-age=10", "Date", "Sun, 06 Nov 1994 08:49:37 GMT", "ETag", `"a"`)},
		{"§4.3.4 new Date", header("Date", "Sun, 06 Nov 1994 09:00:00 GMT")},
		{"§4.3.4 new Cache-Control", header("Cache-Control", "no-cache, max-age=99")},
		{"§4.3.4 Cache-Control on two lines", header("Cache-Control", "max-age=10", "Cache-Control", "must-revalidate")},
		{"§4.3.4 Expires added", header("Expires", "Sun, 06 Nov 1994 10:00:00 GMT")},
		{"§4.3.4 invalid Expires added", header("Expires", "0")},
		{"§4.3.4 new Last-Modified", header("Last-Modified", "Sun, 06 Nov 1994 08:00:00 GMT")},
		{"§4.3.4 new Age", header("Age", "60")},
		{"§4.3.4 new Vary", header("Vary", "Accept, Accept-Language")},
		{"§4.3.4 Vary star", header("Vary", "*")},
		{"§4.3.4 new ETag", header("ETag", `W/"b"`)},
		{"§3.2 Content-Length not merged", header("Content-Length", "0")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			merged := freshened(storedAt(stored), tt.update, epoch, epoch)
			got, want := *merged.responseFacts(), *parseResponseFacts(merged.Header)
			if !maps.EqualFunc(templateHeader(got.template), templateHeader(want.template), slices.Equal) {
				t.Errorf("template = %v, want %v", templateHeader(got.template), templateHeader(want.template))
			}
			got.template, want.template = headerTemplate{}, headerTemplate{}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("facts carried over = %+v\nparsed = %+v", got, want)
			}
		})
	}
}

func templateHeader(t headerTemplate) http.Header {
	h, _ := t.clone(0)
	return h
}

func TestStoredHeader(t *testing.T) {
	h := header("Connection", "close, X-Conn", "X-Conn", "1", "Transfer-Encoding", "chunked", "Keep-Alive", "5",
		"Set-Cookie", "a=b", "Cache-Control", `private="Set-Cookie", max-age=60`, "Content-Type", "text/plain")
	tests := []struct {
		name   string
		shared bool
		field  string
		kept   bool
	}{
		{"§3.1 Connection not stored", false, "Connection", false},
		{"§3.1 Connection-listed field not stored", false, "X-Conn", false},
		{"§3.1 Transfer-Encoding not stored", false, "Transfer-Encoding", false},
		{"§3.1 Keep-Alive not stored", false, "Keep-Alive", false},
		{"§3.1 end-to-end field stored", false, "Content-Type", true},
		{"§5.2.2.7 qualified private field stored by a private cache", false, "Set-Cookie", true},
		{"§5.2.2.7 qualified private field dropped by a shared cache", true, "Set-Cookie", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy
			p.shared = tt.shared
			got, facts := storedHeader(h)
			p.withoutPrivateFields(got, facts)
			served, _ := facts.template.clone(0)
			if _, ok := served[tt.field]; ok != tt.kept {
				t.Errorf("%s in the served copy = %v, want %v", tt.field, ok, tt.kept)
			}
			if _, ok := got[tt.field]; ok != tt.kept {
				t.Errorf("%s kept = %v, want %v", tt.field, ok, tt.kept)
			}
		})
	}
}

func TestConditionalNotModified(t *testing.T) {
	stored := header("ETag", `W/"v1"`, "Last-Modified", httpDate(epoch))
	tests := []struct {
		name   string
		req    http.Header
		status int
		want   bool
	}{
		{"RFC 9110 §13.1.2 If-None-Match weak match", header("If-None-Match", `"v1"`), 200, true},
		{"RFC 9110 §13.1.2 If-None-Match in a list", header("If-None-Match", `"x", W/"v1"`), 200, true},
		{"RFC 9110 §13.1.2 If-None-Match mismatch", header("If-None-Match", `"v2"`), 200, false},
		{"RFC 9110 §13.1.2 If-None-Match *", header("If-None-Match", `*`), 200, true},
		{"RFC 9110 §13.1.3 If-Modified-Since not modified", header("If-Modified-Since", httpDate(epoch.Add(time.Hour))), 200, true},
		{"RFC 9110 §13.1.3 If-Modified-Since modified", header("If-Modified-Since", httpDate(epoch.Add(-time.Hour))), 200, false},
		{"RFC 9110 §13.1.3 invalid If-Modified-Since ignored", header("If-Modified-Since", "yesterday"), 200, false},
		{"RFC 9110 §13.2.2 If-None-Match takes precedence", header("If-None-Match", `"v2"`, "If-Modified-Since", httpDate(epoch.Add(time.Hour))), 200, false},
		{"RFC 9110 §15.4.5 only a 200 becomes 304", header("If-None-Match", `"v1"`), 404, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &http.Request{Method: http.MethodGet, Header: tt.req}
			if got := conditionalNotModified(req, tt.status, stored); got != tt.want {
				t.Errorf("conditionalNotModified = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNotModifiedMatches(t *testing.T) {
	e := storedAt(header("ETag", `"v1"`, "Last-Modified", httpDate(epoch)))
	weak := storedAt(header("ETag", `W/"v1"`))
	tests := []struct {
		name  string
		entry *Entry
		resp  http.Header
		want  bool
	}{
		{"§4.3.4 same strong ETag", e, header("ETag", `"v1"`), true},
		{"§4.3.4 other ETag", e, header("ETag", `"v2"`), false},
		{"§4.3.4 weak ETags never select", weak, header("ETag", `W/"v1"`), false},
		{"§4.3.4 same Last-Modified", e, header("Last-Modified", httpDate(epoch)), true},
		{"§4.3.4 other Last-Modified", e, header("Last-Modified", httpDate(epoch.Add(time.Second))), false},
		{"§4.3.4 no validators: the one stored response", e, header(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := notModifiedMatches(tt.resp, tt.entry); got != tt.want {
				t.Errorf("notModifiedMatches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHeadMatches(t *testing.T) {
	e := storedAt(header("ETag", `"v1"`, "Last-Modified", httpDate(epoch), "Content-Length", "5"))
	tests := []struct {
		name string
		head http.Header
		want bool
	}{
		{"§4.3.5 all validators agree", header("ETag", `"v1"`, "Last-Modified", httpDate(epoch), "Content-Length", "5"), true},
		{"§4.3.5 ETag differs", header("ETag", `"v2"`, "Content-Length", "5"), false},
		{"§4.3.5 ETag missing", header("Content-Length", "5"), false},
		{"§4.3.5 Content-Length differs", header("ETag", `"v1"`, "Content-Length", "6"), false},
		{"§4.3.5 Last-Modified differs", header("ETag", `"v1"`, "Last-Modified", httpDate(epoch.Add(time.Hour))), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := headMatches(tt.head, e); got != tt.want {
				t.Errorf("headMatches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestInvalidatedURLs(t *testing.T) {
	req, _ := http.NewRequest(http.MethodPost, "http://example.com/items", nil)
	tests := []struct {
		name string
		resp http.Header
		want []string
	}{
		{"§4.4 target URI", header(), []string{"http://example.com/items"}},
		{"§4.4 same-origin Location", header("Location", "/items/7"), []string{"http://example.com/items", "http://example.com/items/7"}},
		{"§4.4 same-origin Content-Location", header("Content-Location", "http://example.com/items/8"), []string{"http://example.com/items", "http://example.com/items/8"}},
		{"§4.4 other origin not invalidated", header("Location", "http://other.example/items/7"), []string{"http://example.com/items"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := invalidatedURLs(req, tt.resp)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i].String() != tt.want[i] {
					t.Errorf("url %d = %s, want %s", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestUnsafeMethods(t *testing.T) {
	tests := []struct {
		method string
		unsafe bool
	}{
		{"GET", false}, {"HEAD", false}, {"OPTIONS", false}, {"TRACE", false},
		{"POST", true}, {"PUT", true}, {"DELETE", true}, {"PATCH", true}, {"PURGE", true},
	}
	for _, tt := range tests {
		if got := isUnsafe(tt.method); got != tt.unsafe {
			t.Errorf("RFC 9110 §9.2.1 isUnsafe(%s) = %v, want %v", tt.method, got, tt.unsafe)
		}
	}
}

func TestStorageTTL(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"remaining freshness", header("Cache-Control", "max-age=60"), time.Minute},
		{"plus RFC 5861 windows", header("Cache-Control", "max-age=60, stale-while-revalidate=30, stale-if-error=300"), 6 * time.Minute},
		{"plus the revalidation window with validators", header("Cache-Control", "max-age=60", "ETag", `"x"`), time.Minute + 24*time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := storedAt(tt.header)
			d := testPolicy.evaluate(cacheControl{}, e, e.responseFacts(), epoch)
			if got := testPolicy.storageTTL(d, e.responseFacts()); got != tt.want {
				t.Errorf("storageTTL = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseHTTPDate(t *testing.T) {
	want := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	tests := []struct {
		name  string
		value string
		want  time.Time
	}{
		{"RFC 9110 §5.6.7 IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", want},
		{"RFC 9110 §5.6.7 obsolete RFC 850 form", "Sunday, 06-Nov-94 08:49:37 GMT", want},
		{"RFC 9110 §5.6.7 obsolete asctime form", "Sun Nov  6 08:49:37 1994", want},
		{"invalid", "yesterday", time.Time{}},
		{"numeric, as Expires: 0", "0", time.Time{}},
		{"31 February", "Sat, 31 Feb 2026 08:49:37 GMT", time.Time{}},
		{"wrong time zone", "Sun, 06 Nov 1994 08:49:37 UTC", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseHTTPDate(tt.value); !got.Equal(tt.want) {
				t.Errorf("parseHTTPDate(%q) = %v, want %v", tt.value, got, tt.want)
			}
		})
	}
}

// FuzzParseHTTPDate holds the IMF-fixdate fast path to http.ParseTime.
func FuzzParseHTTPDate(f *testing.F) {
	for _, seed := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Mon, 29 Feb 2027 00:00:00 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT", "0"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		fast, ok := parseIMFFixdate(value)
		if !ok {
			return
		}
		std, err := http.ParseTime(value)
		if err != nil || !std.Equal(fast) {
			t.Fatalf("parseIMFFixdate(%q) = %v, http.ParseTime = %v, %v", value, fast, std, err)
		}
	})
}

// TestStaleWindows covers RFC 5861: when a stale response is served while
// it is revalidated in the background (§3), and when it may answer instead
// of a failed origin (§4).
func TestStaleWindows(t *testing.T) {
	tests := []struct {
		name       string
		shared     bool
		respHeader http.Header
		reqHeader  http.Header
		elapsed    time.Duration
		wantAction action
		wantOnErr  bool
	}{
		{"RFC 5861 §3 within stale-while-revalidate", false, header("Cache-Control", "max-age=10, stale-while-revalidate=30"), nil,
			40 * time.Second, actionServeStale, false},
		{"RFC 5861 §3 past stale-while-revalidate", false, header("Cache-Control", "max-age=10, stale-while-revalidate=30"), nil,
			41 * time.Second, actionRevalidate, false},
		{"RFC 5861 §3 fresh is a plain hit", false, header("Cache-Control", "max-age=10, stale-while-revalidate=30"), nil,
			5 * time.Second, actionServe, false},
		{"RFC 9111 §4.2.4 must-revalidate forbids both", false, header("Cache-Control", "max-age=10, must-revalidate, stale-while-revalidate=30, stale-if-error=30"), nil,
			20 * time.Second, actionRevalidate, false},
		{"RFC 9111 §4.2.4 no-cache forbids both", false, header("Cache-Control", "no-cache, stale-while-revalidate=30, stale-if-error=30"), nil,
			1 * time.Second, actionRevalidate, false},
		{"RFC 9111 §4.2.4 shared: proxy-revalidate forbids both", true, header("Cache-Control", "max-age=10, proxy-revalidate, stale-while-revalidate=30, stale-if-error=30"), nil,
			20 * time.Second, actionRevalidate, false},
		{"RFC 9111 §5.2.1.4 client no-cache skips stale-while-revalidate", false, header("Cache-Control", "max-age=10, stale-while-revalidate=30, stale-if-error=30"),
			header("Cache-Control", "no-cache"), 20 * time.Second, actionRevalidate, false},
		{"RFC 9111 §5.2.1.1 client max-age skips stale-while-revalidate", false, header("Cache-Control", "max-age=10, stale-while-revalidate=30"),
			header("Cache-Control", "max-age=15"), 20 * time.Second, actionRevalidate, false},
		{"RFC 5861 §4 within stale-if-error", false, header("Cache-Control", "max-age=10, stale-if-error=30"), nil,
			40 * time.Second, actionRevalidate, true},
		{"RFC 5861 §4 past stale-if-error", false, header("Cache-Control", "max-age=10, stale-if-error=30"), nil,
			41 * time.Second, actionRevalidate, false},
		{"RFC 5861 §4 request stale-if-error widens the window", false, header("Cache-Control", "max-age=10"),
			header("Cache-Control", "stale-if-error=60"), 40 * time.Second, actionRevalidate, true},
		{"RFC 5861 §4 invalid stale-if-error is no window", false, header("Cache-Control", "max-age=10, stale-if-error=soon"), nil,
			11 * time.Second, actionRevalidate, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy
			p.shared = tt.shared
			e := storedAt(tt.respHeader)
			reqCC := requestDirectives(tt.reqHeader)
			d := p.evaluate(reqCC, e, e.responseFacts(), epoch.Add(tt.elapsed))
			if d.action != tt.wantAction {
				t.Errorf("evaluate action = %v, want %v", d.action, tt.wantAction)
			}
			if _, ok := p.mayServeStaleOnError(reqCC, e, e.responseFacts(), epoch.Add(tt.elapsed)); ok != tt.wantOnErr {
				t.Errorf("mayServeStaleOnError = %v, want %v", ok, tt.wantOnErr)
			}
		})
	}
}
