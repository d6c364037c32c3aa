package httpcache

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// What a validation updates in a stored response (RFC 9111 §4.3.4,
// §4.3.5), besides its freshness: found by an RFC conformance probe.

// TestHeadFreshens: a HEAD response freshens the stored GET, with its
// fields, when the validators it carries agree with the stored ones
// (§4.3.5: "matching values for any received validator fields"), here only
// Last-Modified of the stored two; and, for a stored GET without a
// validator, which no conditional GET can validate, when its
// Content-Length agrees (§4.3.5: HEAD is for when "no validators [are]
// present in the stored response"; a review found such a GET removed).
func TestHeadFreshens(t *testing.T) {
	modified := httpDate(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
	for _, tt := range []struct {
		name         string
		stored, head []string // fields but Cache-Control
	}{
		{"Last-Modified alone received", []string{"ETag", `"v1"`, "Last-Modified", modified}, []string{"Last-Modified", modified}},
		{"no validator stored", nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				fields, cc := tt.stored, "max-age=10"
				if r.Method == http.MethodHead {
					fields, cc = append(tt.head, "X-Head", "yes"), "max-age=100"
				}
				for i := 0; i+1 < len(fields); i += 2 {
					w.Header().Set(fields[i], fields[i+1])
				}
				w.Header().Set("Cache-Control", cc)
				w.Header().Set("Content-Length", "5")
				if r.Method == http.MethodGet {
					fmt.Fprint(w, "hello")
				}
			})
			h.get("/r")
			h.clock.Advance(20 * time.Second)
			h.do(http.MethodHead, "/r")
			got := h.get("/r")
			h.wantOriginRequests(2)
			if !got.cache.Hit || got.body != "hello" || got.header.Get("X-Head") != "yes" {
				t.Fatalf("the HEAD response did not freshen the stored GET: %q, X-Head %q", got.header.Get("Cache-Status"), got.header.Get("X-Head"))
			}
		})
	}
}

// TestNotModifiedToTheCallerFreshens: a stored response without a
// validator is fetched with the caller's own If-Modified-Since; the
// origin's 304, without a validator either, updates it (§4.3.4: "there is
// only one stored response in the initial set, and that stored response
// also lacks a validator"), with the 304's fields.
func TestNotModifiedToTheCallerFreshens(t *testing.T) {
	var requests atomic.Int64
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			w.Header().Set("Cache-Control", "max-age=10")
			w.Header().Set("X-V", "1")
			fmt.Fprint(w, "A")
			return
		}
		if r.Header.Get("If-Modified-Since") != "" {
			w.Header().Set("Cache-Control", "max-age=100")
			w.Header().Set("X-V", "2")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, "B")
	})
	h.get("/r")
	h.clock.Advance(20 * time.Second)
	if got := h.get("/r", "If-Modified-Since", httpDate(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))); got.status != http.StatusNotModified {
		t.Fatalf("status %d, want the origin's 304", got.status)
	}
	h.clock.Advance(10 * time.Second)
	got := h.get("/r")
	h.wantOriginRequests(2)
	if !got.cache.Hit || got.body != "A" || got.header.Get("X-V") != "2" {
		t.Fatalf("the 304 did not freshen the stored response: %q, body %q, X-V %q", got.header.Get("Cache-Status"), got.body, got.header.Get("X-V"))
	}
}

// TestNotModifiedToTheCallerAmongVariants: a 304 without a validator
// updates the one stored response that could have been chosen for the
// request (§4.3.4's initial set: those Vary allows), and none when two
// could: here one without Vary and one that varies on Accept-Language.
func TestNotModifiedToTheCallerAmongVariants(t *testing.T) {
	var requests atomic.Int64
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		switch requests.Add(1) {
		case 1:
			w.Header().Set("Cache-Control", "max-age=10")
			fmt.Fprint(w, "any")
		case 2:
			w.Header().Set("Cache-Control", "max-age=10")
			w.Header().Set("Vary", "Accept-Language")
			fmt.Fprint(w, r.Header.Get("Accept-Language"))
		default:
			w.Header().Set("Cache-Control", "max-age=100")
			w.WriteHeader(http.StatusNotModified)
		}
	})
	h.get("/r")
	h.get("/r", "Accept-Language", "en", "Cache-Control", "no-cache") // stored beside the first
	h.clock.Advance(20 * time.Second)
	h.get("/r", "Accept-Language", "en", "If-Modified-Since", httpDate(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)))
	if got := h.get("/r", "Accept-Language", "en"); got.cache.Hit {
		t.Fatalf("a 304 without a validator freshened one of two responses that could answer: %q", got.header.Get("Cache-Status"))
	}
}

// TestAgeGoesWithValidation: a stored response's Age counted from before
// its validation; after a 304 or a HEAD response without Age, which the
// origin sent, the response is as old as the time since then (§5.1: "the
// time since the response was generated or successfully validated at the
// origin server").
func TestAgeGoesWithValidation(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		t.Run(method, func(t *testing.T) {
			var requests atomic.Int64
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("ETag", `"v1"`)
				w.Header().Set("Cache-Control", "max-age=200")
				w.Header().Set("Content-Length", "5")
				if requests.Add(1) == 1 {
					w.Header().Set("Age", "150")
				}
				if r.Header.Get("If-None-Match") != "" {
					w.WriteHeader(http.StatusNotModified)
					return
				}
				if r.Method == http.MethodGet {
					fmt.Fprint(w, "hello")
				}
			})
			h.get("/r")
			h.clock.Advance(60 * time.Second) // 210 s old: stale
			h.do(method, "/r")
			h.clock.Advance(60 * time.Second)
			got := h.get("/r")
			h.wantOriginRequests(2)
			if !got.cache.Hit || got.header.Get("Age") != "60" {
				t.Fatalf("validated 60 s ago: %q, Age %q, want a hit 60 s old", got.header.Get("Cache-Status"), got.header.Get("Age"))
			}
		})
	}
}
