package httpcache

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// TestHeadOutsideAGetRuleKeepsTheRuledEntry: a GET rule (Methods: GET,
// Override, TTL) caches an API that says no-store. A HEAD for the URL (a
// monitor's probe, curl -I) is outside the rule: its 200 "freshens" the
// stored GET, and the update is refused (no-store, the rule does not apply
// to HEAD). The refusal says nothing new about the stored GET, which this
// request could not have stored either: the entry the operator's rule
// keeps stays (a refused update removed it, found by a review).
func TestHeadOutsideAGetRuleKeepsTheRuledEntry(t *testing.T) {
	var gets int
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("ETag", `"v1"`)
		if r.Method == http.MethodGet {
			gets++
		}
		io.WriteString(w, "v1")
	}, WithRules(Rule{Methods: []string{http.MethodGet}, TTL: time.Minute, Override: true}))
	h.get("/api")
	if again := h.get("/api"); !again.cache.Hit {
		t.Fatalf("the rule does not keep the GET: %+v", again.cache)
	}
	h.clock.Advance(time.Second)
	head := h.do(http.MethodHead, "/api")
	t.Logf("HEAD: %d, Cache-Status %+v", head.status, head.cache)
	h.clock.Advance(time.Second)
	third := h.get("/api")
	if !third.cache.Hit || gets != 1 {
		t.Errorf("after a HEAD the GET rule does not cover, the GET the rule keeps for 1m was gone at 2s: Cache-Status %+v, origin GETs %d, want a hit and 1", third.cache, gets)
	}
}

// TestPlainRevalidationKeepsAPerRequestTTLEntry: the same through a
// per-request TTL (RequestOptions.TTL, an Override rule for that request
// only): one caller caches an API that says no-store (with an ETag) for
// ten minutes; another part of the program GETs the URL without the
// option; its revalidation's 304 repeats no-store and the update is
// refused, but the entry the first caller keeps stays.
func TestPlainRevalidationKeepsAPerRequestTTLEntry(t *testing.T) {
	var full int
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full++
		io.WriteString(w, "v1")
	})
	withTTL := func() result {
		req, _ := http.NewRequestWithContext(RequestContext(t.Context(), RequestOptions{TTL: 10 * time.Minute}), http.MethodGet, h.origin.URL+"/cfg", nil)
		resp, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		st, _ := StatusOf(resp)
		return result{status: resp.StatusCode, cache: st}
	}
	withTTL()
	if again := withTTL(); !again.cache.Hit {
		t.Fatalf("the per-request TTL does not keep the entry: %+v", again.cache)
	}
	h.clock.Advance(time.Second)
	plain := h.get("/cfg")
	t.Logf("plain GET: %d %+v", plain.status, plain.cache)
	h.clock.Advance(time.Second)
	if third := withTTL(); !third.cache.Hit || full != 1 {
		t.Errorf("a plain GET's 304 removed the entry a per-request TTL keeps for 10m: Cache-Status %+v, full responses %d, want a hit and 1", third.cache, full)
	}
}
