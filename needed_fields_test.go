package httpcache

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"testing"
	"time"
)

// Fields the cache needs to serve a stored response (policy.neededToServe)
// are never stored away from it, by any door: a qualified private
// (private_fields_test.go), Connection, a 304 that withholds them, or a
// targeted field a qualified private names. Each test here failed before.

// TestConnectionNamingContentEncoding: a response whose Connection lists
// Content-Encoding lost it (removeHopByHop in storedHeader) and was
// stored: the gzip bytes fetched for a caller that accepts gzip were then
// served, as identity, to a caller that does not. It is not stored.
func TestConnectionNamingContentEncoding(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("plain text"))
	zw.Close()
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Connection", "Content-Encoding")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(gz.Bytes())
	}, WithShared(true))
	h.get("/z", "Accept-Encoding", "gzip")
	second := h.get("/z", "Accept-Encoding", "identity")
	if second.header.Get("Content-Encoding") == "" && second.body != "plain text" {
		t.Errorf("a caller accepting only identity got %d gzip bytes without Content-Encoding (Cache-Status %+v)",
			len(second.body), second.cache)
	}
}

// TestConnectionNamingVary: a response whose Connection lists Vary was
// stored without it and answered every request: bob got alice's data.
func TestConnectionNamingVary(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Connection", "Vary")
		w.Header().Set("Vary", "X-User")
		w.Write([]byte("data of " + r.Header.Get("X-User")))
	}, WithShared(true))
	h.get("/v", "X-User", "alice")
	if b := h.get("/v", "X-User", "bob"); b.body != "data of bob" {
		t.Errorf("bob got %q (Cache-Status %+v)", b.body, b.cache)
	}
}

// TestNotModifiedPrivateCacheControlIsNotStored: a 304 whose qualified
// private names Cache-Control merged into the stored entry without any
// Cache-Control (mergeHeaders withholds the 304's and deletes the stored
// one), and the update was stored: the stored no-cache was gone, and the
// entry's Expires made it fresh, so the next request was served from
// storage without the revalidation the origin asked for. The update is
// not stored.
func TestNotModifiedPrivateCacheControlIsNotStored(t *testing.T) {
	var h *harness
	h = newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Expires", httpDate(h.clock.Now().Add(time.Hour)))
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.Header().Set("Cache-Control", `no-cache, private="Cache-Control"`)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		io.WriteString(w, "v1")
	}, WithShared(true))
	h.get("/r")
	h.wantOriginRequests(1)
	if second := h.get("/r"); second.body != "v1" {
		t.Fatalf("second = %q", second.body)
	}
	h.wantOriginRequests(2) // revalidated: no-cache
	third := h.get("/r")
	if got := h.requests.Load(); got != 3 {
		t.Errorf("third request served from storage (Cache-Status %+v) without revalidation: "+
			"the 304's private=\"Cache-Control\" removed the stored no-cache and the update was stored; origin requests = %d, want 3",
			third.cache, got)
	}
}

// TestTargetedFieldNamedByQualifiedPrivate: with
// WithTargetedCacheControl("CDN-Cache-Control"), the targeted field
// decides for this cache (RFC 9213). A qualified private in Cache-Control
// naming it removed it from the stored header before the cache decided
// (entryToStore: withoutPrivateFields, then factsWithRule read the
// targeted field from the stripped header), so the cache obeyed
// Cache-Control instead: CDN-Cache-Control: private was ignored and one
// user's response answered another.
func TestTargetedFieldNamedByQualifiedPrivate(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", `max-age=600, private="CDN-Cache-Control"`)
		w.Header().Set("CDN-Cache-Control", "private")
		io.WriteString(w, "data of "+r.Header.Get("X-User"))
	}, WithShared(true), WithTargetedCacheControl("CDN-Cache-Control"))
	if a := h.get("/me", "X-User", "alice"); a.body != "data of alice" {
		t.Fatalf("alice got %q", a.body)
	}
	if b := h.get("/me", "X-User", "bob"); b.body != "data of bob" {
		t.Errorf("bob got %q (Cache-Status %+v): a response its targeted field marks private was stored and shared", b.body, b.cache)
	}
}
