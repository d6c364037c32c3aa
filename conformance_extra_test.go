package httpcache

import (
	"testing"
	"time"
)

// RFC conformance probe: further date and age edges.

func TestConformanceAgeReplacedAndDateEdges(t *testing.T) {
	h := probeHarness(t, 200, []string{"Cache-Control", "max-age=600", "Age", "5"})
	h.get("/p")
	h.clock.Advance(10 * time.Second)
	got := h.get("/p")
	if v := got.header.Values("Age"); len(v) != 1 || v[0] != "15" {
		t.Errorf("Age served %q, want one value 15 (RFC 9111 §4 MUST replace)", v)
	}
	// A Range answer from storage carries Age too.
	got = h.get("/p", "Range", "bytes=0-0")
	if got.status != 206 || got.header.Get("Age") != "15" {
		t.Errorf("206 from storage: %d Age %q", got.status, got.header.Get("Age"))
	}
	// Date in 1970 with Expires an hour later: fresh for an hour by
	// lifetime, but apparent age decades: stale.
	old := time.Unix(0, 0)
	h = probeHarness(t, 200, []string{"Date", httpDate(old), "Expires", httpDate(old.Add(time.Hour))})
	h.get("/p")
	if h.get("/p").cache.Hit {
		t.Errorf("Date 1970, Expires 1970+1h: fresh")
	}
	// Expires in year 9999: fresh, no overflow.
	h = probeHarness(t, 200, []string{"Expires", "Fri, 31 Dec 9999 23:59:59 GMT"})
	h.get("/p")
	h.clock.Advance(24 * 365 * time.Hour)
	if !h.get("/p").cache.Hit {
		t.Errorf("Expires 9999: not fresh after a year")
	}
	// Obsolete date formats are accepted (RFC 9110 §5.6.7 MUST accept).
	exp := epoch.Add(time.Hour)
	for _, f := range []string{exp.Format("Monday, 02-Jan-06 15:04:05 GMT"), exp.Format(time.ANSIC)} {
		h = probeHarness(t, 200, []string{"Expires", f})
		h.get("/p")
		h.clock.Advance(30 * time.Minute)
		if !h.get("/p").cache.Hit {
			t.Errorf("Expires %q: not fresh at +30m", f)
		}
	}
}
