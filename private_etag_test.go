package httpcache

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
)

// privateETagOrigin answers a GET with ETag and Last-Modified, stale at
// once; a conditional GET with a 304 that carries Last-Modified only (it
// selects the stored response by its date, §4.3.4) and, in the updated
// directives, private="ETag" (§5.2.2.7). A shared cache drops the stored
// ETag from the merged header (withoutPrivateFields) but its facts still
// say it has one; the next revalidation sets If-None-Match from
// e.Header["Etag"][:1:1], a nil slice: a panic.
func privateETagOrigin(revalidations *atomic.Int64) http.HandlerFunc {
	const lm = "Mon, 01 Jan 2024 00:00:00 GMT"
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != "" {
			revalidations.Add(1)
			w.Header().Set("Cache-Control", `max-age=0, private="ETag"`)
			w.Header().Set("Last-Modified", lm)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Cache-Control", "max-age=0")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", lm)
		io.WriteString(w, "body")
	}
}

func TestPrivateETagIn304DoesNotPanicTheNextRevalidation(t *testing.T) {
	var revalidations atomic.Int64
	h := newHarness(t, privateETagOrigin(&revalidations), WithShared(true))
	for i := range 3 {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("request %d panicked after a 304 with private=\"ETag\" was merged: %v", i, p)
				}
			}()
			if r := h.get("/x"); r.body != "body" {
				t.Fatalf("request %d: body %q", i, r.body)
			}
		}()
	}
	if revalidations.Load() < 2 {
		t.Fatalf("%d revalidations; the test needs 2", revalidations.Load())
	}
}

// The same at first store: a 200 whose directives say private="ETag" is
// stored, in a shared cache, without its ETag (entryToStore), but its facts
// keep it.
func TestPrivateETagAtStoreDoesNotPanicRevalidation(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") != "" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Cache-Control", `max-age=0, private="ETag"`)
		w.Header().Set("ETag", `"v1"`)
		io.WriteString(w, "body")
	}, WithShared(true))
	for i := range 2 {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("request %d panicked: %v", i, p)
				}
			}()
			h.get("/y")
		}()
	}
}
