package httpcache

import (
	"maps"
	"math"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
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
		{name: "§4.2.1 max-age", status: 200,
			header: header("Cache-Control", "max-age=60"), want: time.Minute},
		{name: "§4.2.1 s-maxage ignored by a private cache", status: 200,
			header: header("Cache-Control", "max-age=60, s-maxage=600"), want: time.Minute},
		{name: "§4.2.1 s-maxage wins in a shared cache", shared: true, status: 200,
			header: header("Cache-Control", "max-age=60, s-maxage=600"), want: 10 * time.Minute},
		{name: "§4.2.1 max-age wins over Expires", status: 200,
			header: header("Cache-Control", "max-age=60", "Date", httpDate(epoch), "Expires", httpDate(epoch.Add(time.Hour))), want: time.Minute},
		{name: "§4.2.1 Expires minus Date", status: 200,
			header: header("Date", httpDate(epoch), "Expires", httpDate(epoch.Add(time.Hour))), want: time.Hour},
		{name: "§4.2.1 Expires without Date counts from the response time", status: 200,
			header: header("Expires", httpDate(epoch.Add(2*time.Hour))), want: 2 * time.Hour},
		{name: "§5.3 invalid Expires means stale", status: 200,
			header: header("Date", httpDate(epoch), "Expires", "0"), want: 0},
		{name: "§5.3 Expires before Date is stale", status: 200,
			header: header("Date", httpDate(epoch), "Expires", httpDate(epoch.Add(-time.Hour))), want: 0},
		{name: "§4.2.1 invalid max-age means stale", status: 200,
			header: header("Cache-Control", "max-age=abc", "Expires", httpDate(epoch.Add(time.Hour))), want: 0},
		{name: "§4.2.1 first of duplicate max-age counts", status: 200,
			header: header("Cache-Control", "max-age=60, max-age=3600"), want: time.Minute},
		{name: "§5.2 quoted max-age accepted", status: 200,
			header: header("Cache-Control", `max-age="120"`), want: 2 * time.Minute},
		{name: "§1.2.2 overflowing delta-seconds capped at 2^31", status: 200,
			header: header("Cache-Control", "max-age=99999999999999999999"), want: maxDeltaSeconds * time.Second},
		{name: "§4.2.2 heuristic: 10% of time since Last-Modified", status: 200,
			header: header("Date", httpDate(epoch), "Last-Modified", httpDate(epoch.Add(-10*time.Hour))), want: time.Hour},
		{name: "§4.2.2 heuristic capped", status: 200,
			header: header("Date", httpDate(epoch), "Last-Modified", httpDate(epoch.Add(-1000*24*time.Hour))), want: 24 * time.Hour},
		{name: "§4.2.2 no heuristic for a status not heuristically cacheable", status: 302,
			header: header("Date", httpDate(epoch), "Last-Modified", httpDate(epoch.Add(-10*time.Hour))), want: 0},
		{name: "§4.2.2 heuristic allowed by public", status: 302,
			header: header("Cache-Control", "public", "Date", httpDate(epoch), "Last-Modified", httpDate(epoch.Add(-10*time.Hour))), want: time.Hour},
		{name: "§4.2.2 no Last-Modified, no heuristic", status: 200,
			header: header("Date", httpDate(epoch)), want: 0},
		{name: "§4.2.2 heuristic for 404", status: 404,
			header: header("Date", httpDate(epoch), "Last-Modified", httpDate(epoch.Add(-10*time.Hour))), want: time.Hour},
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
		{name: "§4.2.3 resident time only", header: header("Date", httpDate(epoch)),
			requestTime: epoch, responseTime: epoch, now: epoch.Add(30 * time.Second), want: 30 * time.Second},
		{name: "§4.2.3 Age header adds", header: header("Date", httpDate(epoch), "Age", "100"),
			requestTime: epoch, responseTime: epoch, now: epoch.Add(10 * time.Second), want: 110 * time.Second},
		{name: "§4.2.3 apparent age from Date", header: header("Date", httpDate(epoch.Add(-50*time.Second))),
			requestTime: epoch, responseTime: epoch, now: epoch, want: 50 * time.Second},
		{name: "§4.2.3 response delay corrects Age", header: header("Date", httpDate(epoch), "Age", "10"),
			requestTime: epoch.Add(-5 * time.Second), responseTime: epoch, now: epoch, want: 15 * time.Second},
		{name: "§4.2.3 larger of apparent and corrected age", header: header("Date", httpDate(epoch.Add(-100*time.Second)), "Age", "10"),
			requestTime: epoch, responseTime: epoch, now: epoch, want: 100 * time.Second},
		{name: "§4.2.3 Date in the future gives no negative age", header: header("Date", httpDate(epoch.Add(time.Hour))),
			requestTime: epoch, responseTime: epoch, now: epoch, want: 0},
		{name: "§5.1 invalid Age ignored", header: header("Date", httpDate(epoch), "Age", "-3"),
			requestTime: epoch, responseTime: epoch, now: epoch, want: 0},
		{name: "§5.1 first Age value counts", header: header("Date", httpDate(epoch), "Age", "7, 100"),
			requestTime: epoch, responseTime: epoch, now: epoch, want: 7 * time.Second},
		{name: "§4.2.3 no Date", header: header(),
			requestTime: epoch, responseTime: epoch, now: epoch.Add(time.Second), want: time.Second},
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
		{name: "§3 max-age", req: get(), status: 200,
			header: header("Cache-Control", "max-age=60"), want: true, wantReason: ""},
		{name: "§3 heuristically cacheable status", req: get(), status: 200,
			header: header(), want: true, wantReason: ""},
		{name: "§3 other status needs explicit freshness", req: get(), status: 302,
			header: header(), want: false, wantReason: detailStatus},
		{name: "§3 other status with max-age", req: get(), status: 302,
			header: header("Cache-Control", "max-age=60"), want: true, wantReason: ""},
		{name: "§3 Expires makes it storable", req: get(), status: 307,
			header: header("Expires", httpDate(epoch)), want: true, wantReason: ""},
		{name: "§3 206 not stored", req: get(), status: 206,
			header: header("Cache-Control", "max-age=60"), want: false, wantReason: detailStatus},
		{name: "§3 304 not stored", req: get(), status: 304,
			header: header("Cache-Control", "max-age=60"), want: false, wantReason: detailStatus},
		{name: "§3 HEAD not stored", req: head, status: 200,
			header: header("Cache-Control", "max-age=60"), want: false, wantReason: detailMethod},
		{name: "§5.2.2.5 no-store", req: get(), status: 200,
			header: header("Cache-Control", "max-age=60, no-store"), want: false, wantReason: detailNoStore},
		{name: "§5.2.1.5 request no-store", req: get("Cache-Control", "no-store"), status: 200,
			header: header("Cache-Control", "max-age=60"), want: false, wantReason: detailRequestNoStore},
		{name: "§5.2.2.3 must-understand with known status overrides no-store", req: get(), status: 200,
			header: header("Cache-Control", "max-age=60, must-understand, no-store"), want: true, wantReason: ""},
		{name: "§5.2.2.3 must-understand with unknown status", req: get(), status: 299,
			header: header("Cache-Control", "max-age=60, must-understand, no-store"), want: false, wantReason: detailMustUnderstand},
		{name: "§5.2.2.7 private stored by a private cache", req: get(), status: 200,
			header: header("Cache-Control", "private, max-age=60"), want: true, wantReason: ""},
		{name: "§5.2.2.7 private not stored by a shared cache", shared: true, req: get(), status: 200,
			header: header("Cache-Control", "private, max-age=60"), want: false, wantReason: detailPrivate},
		{name: "§5.2.2.7 qualified private stored by a shared cache", shared: true, req: get(), status: 200,
			header: header("Cache-Control", `private="Set-Cookie", max-age=60`), want: true, wantReason: ""},
		{name: "§3 private alone makes it storable in a private cache", req: get(), status: 302,
			header: header("Cache-Control", "private"), want: true, wantReason: ""},
		{name: "§3.5 Authorization: shared cache refuses", shared: true, req: get("Authorization", "Bearer x"), status: 200,
			header: header("Cache-Control", "max-age=60"), want: false, wantReason: detailAuthorization},
		{name: "§3.5 Authorization: public allows", shared: true, req: get("Authorization", "Bearer x"), status: 200,
			header: header("Cache-Control", "public, max-age=60"), want: true, wantReason: ""},
		{name: "§3.5 Authorization: s-maxage allows", shared: true, req: get("Authorization", "Bearer x"), status: 200,
			header: header("Cache-Control", "s-maxage=60"), want: true, wantReason: ""},
		{name: "§3.5 Authorization: must-revalidate allows", shared: true, req: get("Authorization", "Bearer x"), status: 200,
			header: header("Cache-Control", "must-revalidate, max-age=60"), want: true, wantReason: ""},
		{name: "§3.5 Authorization: a private cache stores", req: get("Authorization", "Bearer x"), status: 200,
			header: header("Cache-Control", "max-age=60"), want: true, wantReason: ""},
		{name: "§4.1 Vary: * is never stored", req: get(), status: 200,
			header: header("Cache-Control", "max-age=60", "Vary", "Accept, *"), want: false, wantReason: detailVaryStar},
		{name: "§4.1 a Vary member that is no field name counts as *", req: get(), status: 200,
			header: header("Cache-Control", "max-age=60", "Vary", "Accept, a b"), want: false, wantReason: detailVaryStar},
		{name: "§5.2.2.4 no-cache is stored (validated on use)", req: get(), status: 200,
			header: header("Cache-Control", "no-cache"), want: true, wantReason: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy
			p.shared = tt.shared
			r := readRequest(tt.req)
			ok, reason := p.storable(tt.req.Method, &r, tt.status, parseResponseFacts(tt.header))
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
		{name: "§4.2 fresh is served", reqHeader: header(),
			respHeader: header("Cache-Control", "max-age=60"), elapsed: 30 * time.Second, wantAction: actionServe, wantForward: ""},
		{name: "§4.2 stale is validated", reqHeader: header(),
			respHeader: header("Cache-Control", "max-age=60"), elapsed: 61 * time.Second, wantAction: actionRevalidate, wantForward: "stale"},
		{name: "§4.2 age equal to lifetime is stale", reqHeader: header(),
			respHeader: header("Cache-Control", "max-age=60"), elapsed: 60 * time.Second, wantAction: actionRevalidate, wantForward: "stale"},
		{name: "§5.2.2.4 no-cache always validated", reqHeader: header(),
			respHeader: header("Cache-Control", "no-cache, max-age=60"), wantAction: actionRevalidate, wantForward: "stale"},
		{name: "§5.2.2.4 qualified no-cache is served when fresh", reqHeader: header(),
			respHeader: header("Cache-Control", `no-cache="Set-Cookie", max-age=60`), wantAction: actionServe, wantForward: ""},
		{name: "§5.2.1.4 request no-cache", reqHeader: header("Cache-Control", "no-cache"),
			respHeader: header("Cache-Control", "max-age=60"), wantAction: actionRevalidate, wantForward: "request"},
		{name: "§5.4 Pragma: no-cache without Cache-Control", reqHeader: header("Pragma", "no-cache"),
			respHeader: header("Cache-Control", "max-age=60"), wantAction: actionRevalidate, wantForward: "request"},
		{name: "§5.4 Pragma ignored when Cache-Control is present", reqHeader: header("Pragma", "no-cache", "Cache-Control", "max-stale=5"),
			respHeader: header("Cache-Control", "max-age=60"), wantAction: actionServe, wantForward: ""},
		{name: "§5.2.1.1 request max-age below age", reqHeader: header("Cache-Control", "max-age=10"),
			respHeader: header("Cache-Control", "max-age=60"), elapsed: 20 * time.Second, wantAction: actionRevalidate, wantForward: "request"},
		{name: "§5.2.1.1 request max-age above age", reqHeader: header("Cache-Control", "max-age=30"),
			respHeader: header("Cache-Control", "max-age=60"), elapsed: 20 * time.Second, wantAction: actionServe, wantForward: ""},
		{name: "§5.2.1.1 invalid request max-age means revalidate", reqHeader: header("Cache-Control", "max-age=x"),
			respHeader: header("Cache-Control", "max-age=60"), elapsed: time.Second, wantAction: actionRevalidate, wantForward: "request"},
		{name: "RFC 8246 immutable fresh ignores max-age=0", reqHeader: header("Cache-Control", "max-age=0"),
			respHeader: header("Cache-Control", "max-age=60, immutable"), elapsed: time.Second, wantAction: actionServe, wantForward: ""},
		{name: "RFC 8246 immutable does not survive no-cache", reqHeader: header("Cache-Control", "no-cache"),
			respHeader: header("Cache-Control", "max-age=60, immutable"), elapsed: time.Second, wantAction: actionRevalidate, wantForward: "request"},
		{name: "§5.2.1.3 min-fresh not met", reqHeader: header("Cache-Control", "min-fresh=50"),
			respHeader: header("Cache-Control", "max-age=60"), elapsed: 20 * time.Second, wantAction: actionRevalidate, wantForward: "request"},
		{name: "§5.2.1.3 min-fresh met", reqHeader: header("Cache-Control", "min-fresh=30"),
			respHeader: header("Cache-Control", "max-age=60"), elapsed: 20 * time.Second, wantAction: actionServe, wantForward: ""},
		{name: "§5.2.1.2 max-stale within bound", reqHeader: header("Cache-Control", "max-stale=30"),
			respHeader: header("Cache-Control", "max-age=60"), elapsed: 80 * time.Second, wantAction: actionServe, wantForward: ""},
		{name: "§5.2.1.2 max-stale exceeded", reqHeader: header("Cache-Control", "max-stale=10"),
			respHeader: header("Cache-Control", "max-age=60"), elapsed: 80 * time.Second, wantAction: actionRevalidate, wantForward: "stale"},
		{name: "§5.2.1.2 max-stale without value accepts any staleness", reqHeader: header("Cache-Control", "max-stale"),
			respHeader: header("Cache-Control", "max-age=60"), elapsed: 1000 * time.Hour, wantAction: actionServe, wantForward: ""},
		{name: "§5.2.2.2 must-revalidate forbids max-stale", reqHeader: header("Cache-Control", "max-stale"),
			respHeader: header("Cache-Control", "max-age=60, must-revalidate"), elapsed: 80 * time.Second, wantAction: actionRevalidate, wantForward: "stale"},
		{name: "§5.2.2.8 proxy-revalidate ignored by a private cache", reqHeader: header("Cache-Control", "max-stale"),
			respHeader: header("Cache-Control", "max-age=60, proxy-revalidate"), elapsed: 80 * time.Second, wantAction: actionServe, wantForward: ""},
		{name: "§5.2.2.8 proxy-revalidate forbids stale in a shared cache", shared: true, reqHeader: header("Cache-Control", "max-stale"),
			respHeader: header("Cache-Control", "max-age=60, proxy-revalidate"), elapsed: 80 * time.Second, wantAction: actionRevalidate, wantForward: "stale"},
		{name: "§5.2.2.10 s-maxage forbids stale in a shared cache", shared: true, reqHeader: header("Cache-Control", "max-stale"),
			respHeader: header("Cache-Control", "s-maxage=60"), elapsed: 80 * time.Second, wantAction: actionRevalidate, wantForward: "stale"},
		{name: "§4.2.2 heuristic freshness served", reqHeader: header(),
			respHeader: header("Date", httpDate(epoch), "Last-Modified", httpDate(epoch.Add(-10*time.Hour))), elapsed: 30 * time.Minute, wantAction: actionServe, wantForward: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy
			p.shared = tt.shared
			e := storedAt(tt.respHeader)
			reqCC := requestDirectives(tt.reqHeader)
			d := p.evaluate(&reqCC, e, e.responseFacts(), epoch.Add(tt.elapsed))
			if d.action != tt.wantAction || d.forward != tt.wantForward {
				t.Errorf("evaluate = action %v fwd %q; want %v %q", d.action, d.forward, tt.wantAction, tt.wantForward)
			}
		})
	}
}

func TestMergeHeaders(t *testing.T) {
	stored := header("Content-Length", "5", "Content-Type", "text/plain", "ETag", `"a"`, "Cache-Control", "max-age=10", "X-Old", "1")
	update := header("Content-Length", "0", "Cache-Control", "max-age=99", "X-New", "2", "Connection", "X-Hop", "X-Hop", "h", "Keep-Alive", "timeout=5")
	e := storedAt(stored)
	withheld := withheldFrom(e, update)
	m := (&policy{}).mergeHeaders(e, update, &withheld)
	got := m.header
	if m.lost {
		t.Error("the merge withheld a field needed to serve the response")
	}
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
		{"§3.2 other field changed", header("Content-Type", "text/html")},
		{"§3.2 other field added", header("X-Request-Id", "7")},
		{"§3.2 Set-Cookie withheld", header("Set-Cookie", "b=2")},
		{"§4.3.4 nothing new", header()},
	}
	// Without Age in the stored header, a 304 that repeats its fields keeps
	// the template's layout (headerTemplate.updated); with it, the merge
	// drops Age and a new template is made.
	storedWithoutAge := stored.Clone()
	storedWithoutAge.Del("Age")
	storedWithoutAge.Set("Set-Cookie", "a=1")
	storedWithoutAge.Set("Content-Type", "text/plain")
	for _, storedHeader := range []http.Header{stored, storedWithoutAge} {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := storedAt(storedHeader)
				before := templateHeader(e.responseFacts().template)
				merged := (&policy{}).freshened(e, tt.update, epoch, epoch)
				got, want := *merged.responseFacts(), *parseResponseFacts(merged.Header)
				if !maps.EqualFunc(templateHeader(got.template), templateHeader(want.template), slices.Equal) {
					t.Errorf("template = %v, want %v", templateHeader(got.template), templateHeader(want.template))
				}
				got.template, want.template = headerTemplate{}, headerTemplate{}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("facts carried over = %+v\nparsed = %+v", got, want)
				}
				if after := templateHeader(e.responseFacts().template); !maps.EqualFunc(before, after, slices.Equal) || !maps.EqualFunc(e.Header, storedHeader, slices.Equal) {
					t.Errorf("the merge modified the stored entry: template %v, was %v", after, before)
				}
			})
		}
	}
}

func templateHeader(t headerTemplate) http.Header {
	h, _ := t.cloneInto(nil, 0)
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
		{name: "§3.1 Connection not stored", field: "Connection", kept: false},
		{name: "§3.1 Connection-listed field not stored", field: "X-Conn", kept: false},
		{name: "§3.1 Transfer-Encoding not stored", field: "Transfer-Encoding", kept: false},
		{name: "§3.1 Keep-Alive not stored", field: "Keep-Alive", kept: false},
		{name: "§3.1 end-to-end field stored", field: "Content-Type", kept: true},
		{name: "§5.2.2.7 qualified private field stored by a private cache", field: "Set-Cookie", kept: true},
		{name: "§5.2.2.7 qualified private field dropped by a shared cache", shared: true, field: "Set-Cookie", kept: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy
			p.shared = tt.shared
			facts := new(responseFacts)
			got := storedHeader(h, facts)
			p.withoutPrivateFields(got, facts)
			served, _ := facts.template.cloneInto(nil, 0)
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
		{name: "RFC 9110 §13.1.2 If-None-Match weak match", req: header("If-None-Match", `"v1"`), status: 200, want: true},
		{name: "RFC 9110 §13.1.2 If-None-Match in a list", req: header("If-None-Match", `"x", W/"v1"`), status: 200, want: true},
		{name: "RFC 9110 §13.1.2 If-None-Match mismatch", req: header("If-None-Match", `"v2"`), status: 200, want: false},
		{name: "RFC 9110 §13.1.2 If-None-Match *", req: header("If-None-Match", `*`), status: 200, want: true},
		{name: "RFC 9110 §13.1.3 If-Modified-Since not modified", req: header("If-Modified-Since", httpDate(epoch.Add(time.Hour))), status: 200, want: true},
		{name: "RFC 9110 §13.1.3 If-Modified-Since modified", req: header("If-Modified-Since", httpDate(epoch.Add(-time.Hour))), status: 200, want: false},
		{name: "RFC 9110 §13.1.3 invalid If-Modified-Since ignored", req: header("If-Modified-Since", "yesterday"), status: 200, want: false},
		{name: "RFC 9110 §13.2.2 If-None-Match takes precedence", req: header("If-None-Match", `"v2"`, "If-Modified-Since", httpDate(epoch.Add(time.Hour))), status: 200,
			want: false},
		{name: "RFC 9110 §15.4.5 only a 200 becomes 304", req: header("If-None-Match", `"v1"`), status: 404, want: false},
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
		{name: "§4.3.4 same strong ETag", entry: e, resp: header("ETag", `"v1"`), want: true},
		{name: "§4.3.4 other ETag", entry: e, resp: header("ETag", `"v2"`), want: false},
		{name: "§4.3.4 a weak ETag selects by weak comparison", entry: weak, resp: header("ETag", `W/"v1"`), want: true},
		// "All the stored responses in the initial set with one of those
		// same strong validators": W/"v1" is not the strong "v1".
		{name: "§4.3.4 a strong 304 ETag does not select a weak stored one", entry: weak, resp: header("ETag", `"v1"`), want: false},
		{name: "§4.3.4 a strong 304 ETag does not select one without ETag", entry: storedAt(header("Last-Modified", httpDate(epoch))), resp: header("ETag", `"v1"`, "Last-Modified", httpDate(epoch)), want: false},
		{name: "§4.3.4 a weak 304 ETag selects a strong stored one", entry: e, resp: header("ETag", `W/"v1"`), want: true},
		{name: "§4.3.4 another weak ETag", entry: weak, resp: header("ETag", `W/"v2"`), want: false},
		{name: "§4.3.4 same Last-Modified", entry: e, resp: header("Last-Modified", httpDate(epoch)), want: true},
		{name: "§4.3.4 other Last-Modified", entry: e, resp: header("Last-Modified", httpDate(epoch.Add(time.Second))), want: false},
		{name: "§4.3.4 no validators: the one stored response, without validators too", entry: storedAt(header("Cache-Control", "max-age=60")), resp: header(), want: true},
		{name: "§4.3.4 no validators: not a stored response with an ETag", entry: e, resp: header(), want: false},
		{name: "§4.3.4 no validators: not a stored response with Last-Modified", entry: storedAt(header("Last-Modified", httpDate(epoch))), resp: header(), want: false},
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
		{"§4.3.5 Last-Modified alone agrees: the validator received", header("Last-Modified", httpDate(epoch), "Content-Length", "5"), true},
		{"§4.3.5 ETag alone agrees", header("ETag", `"v1"`), true},
		{"§4.3.5 invalid Last-Modified", header("ETag", `"v1"`, "Last-Modified", "yesterday"), false},
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
			got := invalidatedURLs(req.URL, tt.resp)
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
		{"remaining freshness, and the stale retention without validators", header("Cache-Control", "max-age=60"), time.Minute + DefaultStaleRetention},
		{"plus RFC 5861 windows", header("Cache-Control", "max-age=60, stale-while-revalidate=30, stale-if-error=300"), 6*time.Minute + DefaultStaleRetention},
		{"plus the revalidation window with validators", header("Cache-Control", "max-age=60", "ETag", `"x"`), time.Minute + 24*time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := storedAt(tt.header)
			d := testPolicy.evaluate(&cacheControl{}, e, e.responseFacts(), epoch)
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
		{"§5.6.7 asctime with a two-digit day", "Sun Nov 06 08:49:37 1994", want},
		{"§5.6.7 two spaces", "Sun, 06 Nov 1994  08:49:37 GMT", time.Time{}},
		{"§5.6.7 a one-digit hour", "Sun, 06 Nov 1994 8:49:37 GMT", time.Time{}},
		{"§5.6.7 a one-digit day", "Sun, 6 Nov 1994 08:49:37 GMT", time.Time{}},
		{"§5.6.7 a lower-case month", "Sun, 06 nov 1994 08:49:37 GMT", time.Time{}},
		{"§5.6.7 the wrong day name", "Mon, 06 Nov 1994 08:49:37 GMT", time.Time{}},
		{"§5.6.7 RFC 850 with a short day name", "Sun, 06-Nov-94 08:49:37 GMT", time.Time{}},
		{"§5.6.7 asctime with two spaces before the time", "Sun Nov  6  08:49:37 1994", time.Time{}},
		{"§5.6.7 trailing space", "Sun, 06 Nov 1994 08:49:37 GMT ", time.Time{}},
		{"§5.6.7 a leap second", "Sat, 31 Dec 2016 23:59:60 GMT", time.Date(2016, 12, 31, 23, 59, 59, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseHTTPDate(tt.value); !got.Equal(tt.want) {
				t.Errorf("parseHTTPDate(%q) = %v, want %v", tt.value, got, tt.want)
			}
		})
	}
}

// referenceHTTPDate is a second reading of RFC 9110 §5.6.7, by regular
// expressions over the grammar, for FuzzParseHTTPDate.
func referenceHTTPDate(s string) time.Time {
	const month = `(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)`
	const clock = `([0-9]{2}):([0-9]{2}):([0-9]{2})`
	forms := []struct {
		re                                               *regexp.Regexp
		dayName, day, mon, year, h, m, sec, twoDigitYear int
	}{
		{re: regexp.MustCompile(`^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) ` + month + ` ([0-9]{4}) ` + clock + ` GMT$`),
			dayName: 1, day: 2, mon: 3, year: 4, h: 5, m: 6, sec: 7},
		{re: regexp.MustCompile(`^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), ([0-9]{2})-` + month + `-([0-9]{2}) ` + clock + ` GMT$`),
			dayName: 1, day: 2, mon: 3, year: 4, h: 5, m: 6, sec: 7, twoDigitYear: 1},
		{re: regexp.MustCompile(`^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) ` + month + ` ([0-9]{2}| [0-9]) ` + clock + ` ([0-9]{4})$`),
			dayName: 1, mon: 2, day: 3, h: 4, m: 5, sec: 6, year: 7},
	}
	for _, form := range forms {
		p := form.re.FindStringSubmatch(s)
		if p == nil {
			continue
		}
		n := func(i int) int { v, _ := strconv.Atoi(strings.TrimSpace(p[i])); return v }
		year := n(form.year)
		if form.twoDigitYear == 1 {
			now := time.Now().UTC().Year()
			if year = now - now%100 + year; year > now+50 {
				year -= 100
			}
		}
		mon := strings.Index("JanFebMarAprMayJunJulAugSepOctNovDec", p[form.mon])/3 + 1
		sec := n(form.sec)
		if n(form.h) > 23 || n(form.m) > 59 || sec > 60 {
			return time.Time{}
		}
		t := time.Date(year, time.Month(mon), n(form.day), n(form.h), n(form.m), min(sec, 59), 0, time.UTC)
		if t.Day() != n(form.day) || t.Weekday().String()[:3] != p[form.dayName][:3] {
			return time.Time{}
		}
		return t
	}
	return time.Time{}
}

// FuzzParseHTTPDate holds parseHTTPDate to the reference reading of the
// grammar: the same date for every input, or none for both.
func FuzzParseHTTPDate(f *testing.F) {
	for _, seed := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
		"Mon, 29 Feb 2027 00:00:00 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT", "0", "Sun, 06 Nov 1994  8:49:37 GMT"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		if got, want := parseHTTPDate(value), referenceHTTPDate(value); !got.Equal(want) {
			t.Fatalf("parseHTTPDate(%q) = %v, the grammar says %v", value, got, want)
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
		{name: "RFC 5861 §3 within stale-while-revalidate", respHeader: header("Cache-Control", "max-age=10, stale-while-revalidate=30"),
			elapsed: 40 * time.Second, wantAction: actionServeStale, wantOnErr: false},
		{name: "RFC 5861 §3 past stale-while-revalidate", respHeader: header("Cache-Control", "max-age=10, stale-while-revalidate=30"),
			elapsed: 41 * time.Second, wantAction: actionRevalidate, wantOnErr: false},
		{name: "RFC 5861 §3 fresh is a plain hit", respHeader: header("Cache-Control", "max-age=10, stale-while-revalidate=30"),
			elapsed: 5 * time.Second, wantAction: actionServe, wantOnErr: false},
		{name: "RFC 9111 §4.2.4 must-revalidate forbids both", respHeader: header("Cache-Control", "max-age=10, must-revalidate, stale-while-revalidate=30, stale-if-error=30"),
			elapsed: 20 * time.Second, wantAction: actionRevalidate, wantOnErr: false},
		{name: "RFC 9111 §4.2.4 no-cache forbids both", respHeader: header("Cache-Control", "no-cache, stale-while-revalidate=30, stale-if-error=30"),
			elapsed: 1 * time.Second, wantAction: actionRevalidate, wantOnErr: false},
		{name: "RFC 9111 §4.2.4 shared: proxy-revalidate forbids both", shared: true, respHeader: header("Cache-Control", "max-age=10, proxy-revalidate, stale-while-revalidate=30, stale-if-error=30"),
			elapsed: 20 * time.Second, wantAction: actionRevalidate, wantOnErr: false},
		{name: "RFC 9111 §5.2.1.4 client no-cache skips stale-while-revalidate", respHeader: header("Cache-Control", "max-age=10, stale-while-revalidate=30, stale-if-error=30"),
			reqHeader: header("Cache-Control", "no-cache"), elapsed: 20 * time.Second, wantAction: actionRevalidate, wantOnErr: false},
		{name: "RFC 9111 §5.2.1.1 client max-age skips stale-while-revalidate", respHeader: header("Cache-Control", "max-age=10, stale-while-revalidate=30"),
			reqHeader: header("Cache-Control", "max-age=15"), elapsed: 20 * time.Second, wantAction: actionRevalidate, wantOnErr: false},
		{name: "RFC 5861 §4 within stale-if-error", respHeader: header("Cache-Control", "max-age=10, stale-if-error=30"),
			elapsed: 40 * time.Second, wantAction: actionRevalidate, wantOnErr: true},
		{name: "RFC 5861 §4 past stale-if-error", respHeader: header("Cache-Control", "max-age=10, stale-if-error=30"),
			elapsed: 41 * time.Second, wantAction: actionRevalidate, wantOnErr: false},
		{name: "RFC 5861 §4 request stale-if-error widens the window", respHeader: header("Cache-Control", "max-age=10"),
			reqHeader: header("Cache-Control", "stale-if-error=60"), elapsed: 40 * time.Second, wantAction: actionRevalidate, wantOnErr: true},
		{name: "RFC 5861 §4 invalid stale-if-error is no window", respHeader: header("Cache-Control", "max-age=10, stale-if-error=soon"),
			elapsed: 11 * time.Second, wantAction: actionRevalidate, wantOnErr: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy
			p.shared = tt.shared
			e := storedAt(tt.respHeader)
			reqCC := requestDirectives(tt.reqHeader)
			d := p.evaluate(&reqCC, e, e.responseFacts(), epoch.Add(tt.elapsed))
			if d.action != tt.wantAction {
				t.Errorf("evaluate action = %v, want %v", d.action, tt.wantAction)
			}
			if _, ok := p.mayServeStaleOnError(&reqCC, e, e.responseFacts(), epoch.Add(tt.elapsed)); ok != tt.wantOnErr {
				t.Errorf("mayServeStaleOnError = %v, want %v", ok, tt.wantOnErr)
			}
		})
	}
}

// TestTimeArithmeticSaturates: a Date centuries old, a huge Age, and a
// rule's TTL of math.MaxInt64 give the largest age or lifetime, never one
// that wrapped around.
func TestTimeArithmeticSaturates(t *testing.T) {
	p := testPolicy
	old := storedAt(header("Cache-Control", "max-age=1", "Date", httpDate(epoch.AddDate(-300, 0, 0))))
	if d := p.evaluate(&cacheControl{}, old, old.responseFacts(), epoch.Add(time.Hour)); d.action == actionServe || d.age < 0 {
		t.Errorf("a Date 300 years old: action %v, age %v; want stale", d.action, d.age)
	}
	aged := storedAt(header("Cache-Control", "max-age=1", "Age", "99999999999999999999"))
	if d := p.evaluate(&cacheControl{}, aged, aged.responseFacts(), epoch.Add(math.MaxInt64)); d.action == actionServe || d.age < 0 {
		t.Errorf("a huge Age: action %v, age %v", d.action, d.age)
	}
	ruled := storedAt(header())
	facts := p.withRule(ruled.responseFacts(), &compiledRule{Rule: Rule{TTL: math.MaxInt64, Override: true, StaleIfError: math.MaxInt64}})
	d := p.evaluate(&cacheControl{}, ruled, facts, epoch)
	if ttl := p.storageTTL(d, facts); ttl < time.Hour {
		t.Errorf("a rule TTL of MaxInt64 kept the entry for %v", ttl)
	}
}

// FuzzPolicyTimes drives the age and freshness arithmetic with extreme
// dates, ages, lifetimes and clocks: the age is never negative, a
// response is fresh only while its age is below its lifetime, and the
// storage TTL is positive.
func FuzzPolicyTimes(f *testing.F) {
	f.Add(int64(0), int64(0), int64(60), int64(0), int64(10), int64(0))
	f.Add(int64(-9e18), int64(9e18), int64(1), int64(-9e18), int64(9e18), int64(9e18))
	f.Fuzz(func(t *testing.T, dateOffset, ageSeconds, maxAge, expiresOffset, elapsed, ruleTTL int64) {
		h := header("Date", httpDate(epoch.Add(time.Duration(dateOffset))),
			"Expires", httpDate(epoch.Add(time.Duration(expiresOffset))),
			"Cache-Control", "max-age="+strconv.FormatInt(maxAge, 10)+", stale-while-revalidate=60",
			"Age", strconv.FormatInt(ageSeconds, 10), "Last-Modified", httpDate(epoch.Add(-time.Hour)))
		e := storedAt(h)
		facts := e.responseFacts()
		if ruleTTL > 0 {
			facts = testPolicy.withRule(facts, &compiledRule{Rule: Rule{TTL: time.Duration(ruleTTL)}})
		}
		now := epoch.Add(time.Duration(elapsed))
		d := testPolicy.evaluate(&cacheControl{}, e, facts, now)
		if d.age < 0 || d.lifetime < 0 {
			t.Fatalf("age %v, lifetime %v", d.age, d.lifetime)
		}
		if d.action == actionServe && d.age >= d.lifetime {
			t.Fatalf("served with age %v and lifetime %v", d.age, d.lifetime)
		}
		if ttl := testPolicy.storageTTL(d, facts); ttl <= 0 {
			t.Fatalf("storage TTL %v", ttl)
		}
	})
}

// TestExpiresOnSeveralLinesIsInvalid: Expires is one date (RFC 9111 §5.3);
// sent on several field lines it is invalid, which means already expired.
func TestExpiresOnSeveralLinesIsInvalid(t *testing.T) {
	future := httpDate(epoch.Add(time.Hour))
	e := storedAt(http.Header{"Date": {httpDate(epoch)}, "Expires": {future, future}})
	if lifetime := testPolicy.freshnessLifetime(e, e.responseFacts()); lifetime != 0 {
		t.Fatalf("§5.3 Expires on two lines: lifetime %v, want 0", lifetime)
	}
}
