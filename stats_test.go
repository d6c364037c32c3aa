package httpcache

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestStatsCountOutcomes drives one request of each outcome through a
// Transport and checks that Stats counts each once, under its name.
func TestStatsCountOutcomes(t *testing.T) {
	var failing atomic.Bool
	var version atomic.Int64
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		switch r.URL.Path {
		case "/vary":
			w.Header().Set("Vary", "Accept-Language")
			w.Header().Set("Cache-Control", "max-age=60")
		case "/validated":
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("ETag", `"v1"`)
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		case "/changing":
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("ETag", `"`+string(rune('a'+version.Add(1)))+`"`)
		case "/fragile":
			w.Header().Set("Cache-Control", "max-age=1, stale-if-error=600")
		default:
			w.Header().Set("Cache-Control", "max-age=60")
		}
		io.WriteString(w, "body")
	}, WithSynchronousWrites(true))

	h.get("/fresh")                                      // miss
	h.get("/fresh")                                      // fresh hit, 4 bytes
	h.get("/vary", "Accept-Language", "en")              // miss
	h.get("/vary", "Accept-Language", "fr")              // vary miss
	h.get("/validated")                                  // miss
	h.get("/validated")                                  // 304
	h.get("/changing")                                   // miss
	h.get("/changing")                                   // replaced
	h.get("/fresh", "Cache-Control", "no-store")         // bypassed
	h.do(http.MethodDelete, "/elsewhere")                // other method
	h.get("/unknown", "Cache-Control", "only-if-cached") // 504
	h.get("/fragile")                                    // miss
	h.clock.Advance(10 * time.Second)
	failing.Store(true)
	if r := h.get("/fragile"); r.body != "body" {
		t.Fatalf("stale-if-error served %q", r.body)
	}

	want := RequestCounts{
		FreshHits: 1, Misses: 5, VaryMisses: 1, Revalidated304: 1, Revalidated: 1,
		StaleOnError: 1, Bypassed: 1, OtherMethods: 1, OnlyIfCached504: 1,
	}
	s := h.transport.Stats()
	if s.Requests != want {
		t.Fatalf("requests\n got %+v\nwant %+v", s.Requests, want)
	}
	if s.BytesServed != 4 {
		t.Errorf("BytesServed = %d, want 4 (one hit)", s.BytesServed)
	}
	if s.Stored < 6 {
		t.Errorf("Stored = %d, want at least the 6 responses stored", s.Stored)
	}
	if len(s.StorageErrors) != 0 || s.QueuedWrites != 0 {
		t.Errorf("storage errors %v, queued %d", s.StorageErrors, s.QueuedWrites)
	}
}

// TestStatsCountStorageErrors checks that failed storage calls are counted
// by operation, and that the requests still succeed.
func TestStatsCountStorageErrors(t *testing.T) {
	store := newFakeStorage()
	store.get = func(context.Context, string) ([]*Entry, error) { return nil, errors.New("down") }
	store.set = func(context.Context, string, *Entry, time.Duration) error { return errors.New("down") }
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, strings.Repeat("x", 10))
	}, WithStorage(store), WithSynchronousWrites(true))
	for range 3 {
		if r := h.get("/a"); r.status != http.StatusOK {
			t.Fatalf("status %d", r.status)
		}
	}
	s := h.transport.Stats()
	if s.StorageErrors["get"] != 3 || s.StorageErrors["set"] != 3 {
		t.Fatalf("storage errors %v, want 3 gets and 3 sets", s.StorageErrors)
	}
	if s.Requests.Misses != 3 {
		t.Fatalf("misses %d, want 3", s.Requests.Misses)
	}
	s.StorageErrors["get"] = 0 // a snapshot is the caller's own
	if h.transport.Stats().StorageErrors["get"] != 3 {
		t.Fatal("changing a snapshot changed the Transport's counters")
	}
}

// A stale response without validators, revalidated by a full request,
// counts as Revalidated, not nowhere. (Found by review.)
func TestStatsCountRevalidationWithoutValidators(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=1")
		io.WriteString(w, "body")
	}, WithSynchronousWrites(true))
	h.get("/a")
	h.clock.Advance(time.Minute)
	h.get("/a")
	h.clock.Advance(time.Minute)
	h.do(http.MethodHead, "/a")
	if s := h.transport.Stats().Requests; s.Misses != 1 || s.Revalidated != 2 {
		t.Fatalf("requests %+v, want 1 miss and 2 revalidated", s)
	}
}
