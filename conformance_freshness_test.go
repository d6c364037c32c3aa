package httpcache

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// RFC conformance probe: freshness (RFC 9111 §4.2), request and
// response directives (§5.2), and integer edge cases (§1.2.2, §4.2.1).

// probeOrigin answers every request with the given fields (status first
// when fields[0] is "status"), numbering its bodies. A "Date" of "-"
// removes Date.
func probeOrigin(status int, fields ...string) (http.HandlerFunc, *atomic.Int64) {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(fields); i += 2 {
			if fields[i] == "Date" && fields[i+1] == "-" {
				w.Header()["Date"] = nil
				continue
			}
			w.Header().Add(fields[i], fields[i+1])
		}
		if fields := w.Header()["Date"]; len(fields) > 1 {
			w.Header()["Date"] = fields[1:] // the test's Date over the harness's
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, "v%d", n.Add(1))
	}, &n
}

func probeHarness(t *testing.T, status int, fields []string, opts ...Option) *harness {
	handler, _ := probeOrigin(status, fields...)
	return newHarness(t, handler, opts...)
}

func TestConformanceAgeCalculation(t *testing.T) {
	// Age from the origin counts (corrected_age_value).
	h := probeHarness(t, 200, []string{"Cache-Control", "max-age=60", "Age", "50"})
	h.get("/p")
	h.clock.Advance(9 * time.Second)
	if got := h.get("/p"); !got.cache.Hit || got.header.Get("Age") != "59" {
		t.Errorf("Age 50 +9s: hit=%v Age %q, want hit, 59", got.cache.Hit, got.header.Get("Age"))
	}
	h.clock.Advance(2 * time.Second)
	if got := h.get("/p"); got.cache.Hit {
		t.Errorf("Age 50 +11s with max-age=60 still fresh")
	}

	// Apparent age: Date 30 s before the response arrived.
	h = probeHarness(t, 200, []string{"Cache-Control", "max-age=60", "Date", httpDate(epoch.Add(-30 * time.Second))})
	h.get("/p")
	h.clock.Advance(29 * time.Second)
	if got := h.get("/p"); !got.cache.Hit {
		t.Errorf("apparent age 30 +29s: miss")
	}
	h.clock.Advance(2 * time.Second)
	if got := h.get("/p"); got.cache.Hit {
		t.Errorf("apparent age 30 +31s: still fresh with max-age=60")
	}

	// Date in the future: apparent age 0, never negative.
	h = probeHarness(t, 200, []string{"Cache-Control", "max-age=60", "Date", httpDate(epoch.Add(time.Hour))})
	h.get("/p")
	h.clock.Advance(59 * time.Second)
	if got := h.get("/p"); !got.cache.Hit {
		t.Errorf("future Date +59s: miss")
	}
	h.clock.Advance(2 * time.Second)
	if got := h.get("/p"); got.cache.Hit {
		t.Errorf("future Date +61s: fresh (age counted negative?)")
	}

	// Garbage, negative, list and huge Age.
	for _, age := range []string{"abc", "-10", "1.5", ""} {
		h = probeHarness(t, 200, []string{"Cache-Control", "max-age=60", "Age", age})
		h.get("/p")
		h.clock.Advance(30 * time.Second)
		if got := h.get("/p"); !got.cache.Hit {
			t.Errorf("Age %q: not fresh at +30s", age)
		}
	}
	h = probeHarness(t, 200, []string{"Cache-Control", "max-age=60", "Age", "9999999999999999999999"})
	if h.get("/p"); h.get("/p").cache.Hit {
		t.Errorf("Age overflowing: fresh")
	}
	h = probeHarness(t, 200, []string{"Cache-Control", "max-age=60", "Age", "70, 10"})
	if h.get("/p"); h.get("/p").cache.Hit {
		t.Errorf("Age 70, 10: fresh (first value is 70)")
	}
}

// RFC 9110 §6.6.1: "A recipient with a clock that receives a response
// message without a Date header field MUST record the time it was
// received and append a corresponding Date header field to the message's
// header section if it is cached or forwarded downstream."
func TestConformanceMissingDate(t *testing.T) {
	h := probeHarness(t, 200, []string{"Date", "-", "Cache-Control", "max-age=60"})
	first := h.get("/p")
	h.clock.Advance(30 * time.Second)
	got := h.get("/p")
	if !got.cache.Hit {
		t.Fatalf("no Date: not fresh at +30s")
	}
	h.clock.Advance(31 * time.Second)
	if h.get("/p").cache.Hit {
		t.Errorf("no Date: fresh at +61s")
	}
	if got.header.Get("Date") == "" {
		t.Errorf("a stored response received without Date is served without one (first response Date %q); RFC 9110 §6.6.1 MUST append one", first.header.Get("Date"))
	}
	// Expires without Date: measured from receipt.
	h = probeHarness(t, 200, []string{"Date", "-", "Expires", httpDate(epoch.Add(time.Minute))})
	h.get("/p")
	h.clock.Advance(30 * time.Second)
	if !h.get("/p").cache.Hit {
		t.Errorf("Expires +60s without Date: not fresh at +30s")
	}
}

func TestConformanceExpires(t *testing.T) {
	for _, exp := range []string{"0", "-1", "garbage", "Thu, 01 Jan 1970 00:00:00 GMT", httpDate(epoch)} {
		h := probeHarness(t, 200, []string{"Expires", exp, "Last-Modified", httpDate(epoch.Add(-1000 * time.Hour))})
		h.get("/p")
		if h.get("/p").cache.Hit {
			t.Errorf("Expires %q: fresh (must be already expired, §5.3; no heuristic, §4.2.2)", exp)
		}
	}
	// Two Expires lines, invalid.
	h := probeHarness(t, 200, []string{"Expires", httpDate(epoch.Add(time.Hour)), "Expires", httpDate(epoch.Add(time.Hour))})
	h.get("/p")
	_ = h.get("/p") // either is acceptable per §5.3 ("MAY"/invalid); no assertion
	// max-age wins over Expires, both ways (§5.3: "If a response includes a
	// Cache-Control header field with the max-age directive, a recipient
	// MUST ignore the Expires header field").
	h = probeHarness(t, 200, []string{"Cache-Control", "max-age=600", "Expires", "0"})
	h.get("/p")
	h.clock.Advance(5 * time.Minute)
	if !h.get("/p").cache.Hit {
		t.Errorf("max-age=600 with Expires 0: not fresh at +5m")
	}
	h = probeHarness(t, 200, []string{"Cache-Control", "max-age=0", "Expires", httpDate(epoch.Add(time.Hour))})
	h.get("/p")
	if h.get("/p").cache.Hit {
		t.Errorf("max-age=0 with Expires +1h: fresh")
	}
	// An invalid max-age still overrides Expires? §5.3 says max-age present
	// means ignore Expires; an invalid max-age is stale (§4.2.1). Either
	// stale or Expires is defensible; require not fresh past Expires.
	h = probeHarness(t, 200, []string{"Cache-Control", "max-age=abc", "Expires", httpDate(epoch.Add(time.Minute))})
	h.get("/p")
	h.clock.Advance(2 * time.Minute)
	if h.get("/p").cache.Hit {
		t.Errorf("max-age=abc with Expires +1m: fresh at +2m")
	}
	// s-maxage in a shared cache wins over Expires too (§5.2.2.10).
	h = probeHarness(t, 200, []string{"Cache-Control", "s-maxage=600", "Expires", "0"}, WithShared(true))
	h.get("/p")
	h.clock.Advance(5 * time.Minute)
	if !h.get("/p").cache.Hit {
		t.Errorf("shared: s-maxage=600 with Expires 0: not fresh at +5m")
	}
}

func TestConformanceSMaxAge(t *testing.T) {
	fields := []string{"Cache-Control", "max-age=10, s-maxage=120"}
	shared := probeHarness(t, 200, fields, WithShared(true))
	shared.get("/p")
	shared.clock.Advance(time.Minute)
	if !shared.get("/p").cache.Hit {
		t.Errorf("shared: s-maxage=120 not used")
	}
	private := probeHarness(t, 200, fields)
	private.get("/p")
	private.clock.Advance(time.Minute)
	if private.get("/p").cache.Hit {
		t.Errorf("private: s-maxage=120 used (max-age=10)")
	}
	// s-maxage implies proxy-revalidate in a shared cache: no max-stale.
	shared.clock.Advance(2 * time.Minute)
	if shared.get("/p", "Cache-Control", "max-stale=3600").cache.Hit {
		t.Errorf("shared: stale s-maxage response served for max-stale (§5.2.2.10)")
	}
	// s-maxage overflow.
	h := probeHarness(t, 200, []string{"Cache-Control", "s-maxage=99999999999999999999999"}, WithShared(true))
	h.get("/p")
	h.clock.Advance(24 * 365 * time.Hour)
	if !h.get("/p").cache.Hit {
		t.Errorf("shared: overflowing s-maxage not fresh after a year")
	}
}

func TestConformanceHeuristic(t *testing.T) {
	lm := httpDate(epoch.Add(-10 * time.Hour)) // 10% = 1h
	for _, status := range []int{200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501} {
		h := probeHarness(t, status, []string{"Last-Modified", lm})
		h.get("/p")
		h.clock.Advance(59 * time.Minute)
		if !h.get("/p").cache.Hit {
			t.Errorf("%d: heuristic 10%% of 10h: not fresh at 59m", status)
		}
		h.clock.Advance(2 * time.Minute)
		if h.get("/p").cache.Hit {
			t.Errorf("%d: heuristic fresh at 61m", status)
		}
	}
	for _, status := range []int{201, 202, 302, 303, 307, 400, 403, 409, 418, 500, 503} {
		h := probeHarness(t, status, []string{"Last-Modified", lm})
		h.get("/p")
		if h.get("/p").cache.Hit {
			t.Errorf("%d: heuristically fresh, not a heuristically cacheable status (RFC 9111 §4.2.2)", status)
		}
	}
	// Explicit freshness: no heuristic (§4.2.2 MUST NOT).
	for _, cc := range []string{"max-age=0", "max-age=-5", "max-age=x", "no-cache"} {
		h := probeHarness(t, 200, []string{"Cache-Control", cc, "Last-Modified", lm})
		h.get("/p")
		if h.get("/p").cache.Hit {
			t.Errorf("Cache-Control %q with Last-Modified: heuristically fresh", cc)
		}
	}
	// public on a non-heuristic status permits heuristic (§4.2.2 / §3).
	h := probeHarness(t, 299, []string{"Cache-Control", "public", "Last-Modified", lm})
	h.get("/p")
	_ = h.get("/p")
	// Query string: RFC 9111 no longer forbids a heuristic; either is fine.
	// Last-Modified in the future: no heuristic.
	h = probeHarness(t, 200, []string{"Last-Modified", httpDate(epoch.Add(time.Hour))})
	h.get("/p")
	if h.get("/p").cache.Hit {
		t.Errorf("Last-Modified in the future: heuristically fresh")
	}
}

func TestConformanceRequestDirectives(t *testing.T) {
	fields := []string{"Cache-Control", "max-age=60", "ETag", `"e"`}
	h := probeHarness(t, 200, fields)
	h.get("/p")
	h.clock.Advance(80 * time.Second) // 20 s stale
	if !h.get("/p", "Cache-Control", "max-stale=30").cache.Hit {
		t.Errorf("max-stale=30, 20 s stale: not served")
	}
	if !h.get("/p", "Cache-Control", "max-stale").cache.Hit {
		t.Errorf("max-stale (any): not served")
	}
	if h.get("/p", "Cache-Control", "max-stale=10").cache.Hit {
		t.Errorf("max-stale=10, 20 s stale: served")
	}
	// (the origin's 200 stored anew at +80s)
	if !h.get("/p", "Cache-Control", "max-age=5").cache.Hit {
		t.Errorf("max-age=5 on a new response: miss")
	}
	h.clock.Advance(10 * time.Second)
	if h.get("/p", "Cache-Control", "max-age=5").cache.Hit {
		t.Errorf("max-age=5, age 10: served")
	}
	if !h.get("/p", "Cache-Control", "min-fresh=30").cache.Hit {
		t.Errorf("min-fresh=30, 60 left: miss")
	}
	h.clock.Advance(40 * time.Second) // 20 left
	if h.get("/p", "Cache-Control", "min-fresh=30").cache.Hit {
		t.Errorf("min-fresh=30, 20 left: served")
	}
	if h.get("/p", "Cache-Control", "no-cache").cache.Hit {
		t.Errorf("request no-cache: served")
	}
	if h.get("/p", "Pragma", "no-cache").cache.Hit {
		t.Errorf("Pragma: no-cache: served")
	}
	if !h.get("/p", "Pragma", "no-cache", "Cache-Control", "max-stale=1").cache.Hit {
		t.Errorf("Pragma ignored when Cache-Control present (§5.4): miss")
	}
	// must-revalidate: no stale even with max-stale.
	h = probeHarness(t, 200, []string{"Cache-Control", "max-age=60, must-revalidate"})
	h.get("/p")
	h.clock.Advance(61 * time.Second)
	if h.get("/p", "Cache-Control", "max-stale").cache.Hit {
		t.Errorf("must-revalidate served stale for max-stale")
	}
	// response no-cache: validation on every use, even fresh.
	h = probeHarness(t, 200, []string{"Cache-Control", "max-age=600, no-cache", "ETag", `"e"`})
	h.get("/p")
	if h.get("/p").cache.Hit {
		t.Errorf("no-cache response reused without validation")
	}
	// request no-store: the response is not stored.
	h = probeHarness(t, 200, []string{"Cache-Control", "max-age=600"})
	h.get("/p", "Cache-Control", "no-store")
	if h.get("/p").cache.Hit {
		t.Errorf("request no-store: response stored")
	}
	// response no-store
	h = probeHarness(t, 200, []string{"Cache-Control", "max-age=600, no-store"})
	h.get("/p")
	if h.get("/p").cache.Hit {
		t.Errorf("no-store stored")
	}
}

func TestConformancePrivateNoCacheFieldNames(t *testing.T) {
	h := probeHarness(t, 200, []string{"Cache-Control", "max-age=600, private", "ETag", `"e"`}, WithShared(true))
	h.get("/p")
	if h.get("/p").cache.Hit {
		t.Errorf("shared: private stored")
	}
	h = probeHarness(t, 200, []string{"Cache-Control", "max-age=600, private"})
	h.get("/p")
	if !h.get("/p").cache.Hit {
		t.Errorf("private cache: private not stored")
	}
	h = probeHarness(t, 200, []string{"Cache-Control", `max-age=600, private="X-Secret"`, "X-Secret", "s"}, WithShared(true))
	h.get("/p")
	got := h.get("/p")
	if !got.cache.Hit || got.header.Get("X-Secret") != "" {
		t.Errorf("shared: private=X-Secret: hit=%v X-Secret %q", got.cache.Hit, got.header.Get("X-Secret"))
	}
	h = probeHarness(t, 200, []string{"Cache-Control", `max-age=600, no-cache="X-Token"`, "X-Token", "t"})
	h.get("/p")
	got = h.get("/p")
	if got.cache.Hit && got.header.Get("X-Token") != "" {
		t.Errorf("no-cache=X-Token: field sent from storage without validation")
	}
}

func TestConformanceMustUnderstand(t *testing.T) {
	h := probeHarness(t, 299, []string{"Cache-Control", "max-age=600, must-understand, no-store"})
	h.get("/p")
	if h.get("/p").cache.Hit {
		t.Errorf("must-understand, unknown status 299: stored")
	}
	h = probeHarness(t, 299, []string{"Cache-Control", "max-age=600, must-understand"})
	h.get("/p")
	if h.get("/p").cache.Hit {
		t.Errorf("must-understand (no no-store), unknown status 299: stored (§5.2.2.3 MUST NOT)")
	}
	h = probeHarness(t, 200, []string{"Cache-Control", "max-age=600, must-understand, no-store"})
	h.get("/p")
	_ = h.get("/p") // MAY store
}

func TestConformanceIntegerEdges(t *testing.T) {
	year := 24 * 365 * time.Hour
	cases := []struct {
		cc    string
		after time.Duration
		hit   bool
	}{
		{"max-age=9999999999999999999", year, true},
		{"max-age=2147483648", year, true},
		{"max-age=2147483647", year, true},
		{"max-age=-1", 0, false},
		{"max-age=60, max-age=3600", 2 * time.Minute, false},
		{"max-age=60", 30 * time.Second, true},
		{`max-age="60"`, 30 * time.Second, true},
		{`max-age="60"`, 61 * time.Second, false},
		{"max-age=60s", 0, false},
		{"max-age=+60", 0, false},
		{"max-age=0060", 30 * time.Second, true},
		{"max-age = 60", 30 * time.Second, true}, // BWS is not in the grammar; either is fine, see below
		{"MAX-AGE=60", 30 * time.Second, true},
		{"max-age=", 0, false},
		{"max-age", 0, false},
	}
	for _, c := range cases {
		h := probeHarness(t, 200, []string{"Cache-Control", c.cc})
		h.get("/p")
		h.clock.Advance(c.after)
		got := h.get("/p")
		if c.cc == "max-age = 60" {
			continue
		}
		if got.cache.Hit != c.hit {
			t.Errorf("%q at +%v: hit=%v, want %v", c.cc, c.after, got.cache.Hit, c.hit)
		}
	}
	// Two lines with conflicting values: first counts (or stale).
	h := probeHarness(t, 200, []string{"Cache-Control", "max-age=60", "Cache-Control", "max-age=3600"})
	h.get("/p")
	h.clock.Advance(2 * time.Minute)
	if h.get("/p").cache.Hit {
		t.Errorf("max-age=60 / max-age=3600 on two lines: fresh at +2m")
	}
	// Request max-stale overflow.
	h = probeHarness(t, 200, []string{"Cache-Control", "max-age=1"})
	h.get("/p")
	h.clock.Advance(10 * time.Minute)
	if !h.get("/p", "Cache-Control", "max-stale=99999999999999999999").cache.Hit {
		t.Errorf("max-stale overflowing: not served (stale retention 1h)")
	}
}
