package httpcache

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// variantDeleterStore is a fakeStorage that can remove one variant
// (VariantDeleter), as the built-in stores and redisstore can.
type variantDeleterStore struct{ *fakeStorage }

func (s variantDeleterStore) DeleteVariant(ctx context.Context, key, variant string) error {
	return s.memory.DeleteVariant(ctx, key, variant)
}

var _ VariantDeleter = variantDeleterStore{}

// variantQueueRig: an origin with Vary: Accept-Language, a store written behind
// the requests whose writes of /slow block until released.
func variantQueueRig(t *testing.T) (h *harness, store variantDeleterStore, version *atomic.Int64, enNoStore *atomic.Bool, release chan struct{}) {
	version, enNoStore = new(atomic.Int64), new(atomic.Bool)
	version.Store(1)
	store, release = slowWritesStore()
	h = newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		lang := r.Header.Get("Accept-Language")
		w.Header().Set("Vary", "Accept-Language")
		if lang == "en" && enNoStore.Load() {
			w.Header().Set("Cache-Control", "no-store")
		} else {
			w.Header().Set("Cache-Control", "max-age=600")
		}
		fmt.Fprintf(w, "%s-v%d", lang, version.Load())
	}, WithStorage(store))
	return
}

// slowWritesStore is a store that can remove one variant, whose writes of
// /slow block until release is closed: a request to /slow holds the
// writer behind the requests.
func slowWritesStore() (store variantDeleterStore, release chan struct{}) {
	store, release = variantDeleterStore{newFakeStorage()}, make(chan struct{})
	store.set = func(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
		if strings.Contains(key, "/slow") {
			<-release
		}
		return store.memory.Set(ctx, key, e, ttl)
	}
	return store, release
}

// fillWriteQueue lowers the bound of h's queue of writes so that the next
// write does not fit.
func fillWriteQueue(h *harness) {
	w := h.transport.writes
	w.mu.Lock()
	w.limit = w.pendingBytes + 1
	w.mu.Unlock()
}

// waitForWriting waits until h's writer behind the requests is writing.
func waitForWriting(h *harness) {
	w := h.transport.writes
	w.mu.Lock()
	for w.writing == nil {
		w.mu.Unlock()
		time.Sleep(time.Millisecond)
		w.mu.Lock()
	}
	w.mu.Unlock()
}

// A removal of one variant (en answered no-store) cancels the queued
// writes of en only (oneVariant): fr-v2's, which its caller got, still
// lands, and fr-v1 is not served again.
func TestVariantDeleteKeepsOtherVariantsWrite(t *testing.T) {
	h, _, version, enNoStore, release := variantQueueRig(t)
	h.get("/doc", "Accept-Language", "fr")
	h.get("/doc", "Accept-Language", "en")
	h.transport.waitForWrites()
	h.get("/slow") // its write holds the writer
	waitForWriting(h)
	version.Store(2)
	if r := h.get("/doc", "Accept-Language", "fr", "Cache-Control", "no-cache"); r.body != "fr-v2" {
		t.Fatalf("set-up: fr refresh got %q", r.body)
	}
	enNoStore.Store(true)
	if r := h.get("/doc", "Accept-Language", "en", "Cache-Control", "no-cache"); r.body != "en-v2" {
		t.Fatalf("set-up: en got %q", r.body)
	}
	close(release)
	h.transport.waitForWrites()
	if r := h.get("/doc", "Accept-Language", "fr"); r.body != "fr-v2" {
		t.Fatalf("after the caller got fr-v2, fr is served as %q (hit %v, %q): the removal of en dropped fr-v2's queued write and left fr-v1", r.body, r.cache.Hit, r.header.Get("Cache-Status"))
	}
}

// A write dropped because the queue is full drops the queued writes of its
// own variant only, which the failed write's record hides
// (failedWrite.hides): en-v2's queued write, of another variant, still
// lands, and en-v1 is not served again after its caller got en-v2.
func TestDroppedWriteKeepsOtherVariantsWrite(t *testing.T) {
	h, _, version, _, release := variantQueueRig(t)
	h.get("/doc", "Accept-Language", "fr")
	h.get("/doc", "Accept-Language", "en")
	h.transport.waitForWrites()
	h.get("/slow")
	waitForWriting(h)
	version.Store(2)
	if r := h.get("/doc", "Accept-Language", "en", "Cache-Control", "no-cache"); r.body != "en-v2" {
		t.Fatalf("set-up: en refresh got %q", r.body)
	}
	fillWriteQueue(h) // fr-v2's write does not fit
	if r := h.get("/doc", "Accept-Language", "fr", "Cache-Control", "no-cache"); r.body != "fr-v2" {
		t.Fatalf("set-up: fr refresh got %q", r.body)
	}
	close(release)
	h.transport.waitForWrites()
	if r := h.get("/doc", "Accept-Language", "en"); r.body != "en-v2" {
		t.Fatalf("after the caller got en-v2, en is served as %q (hit %v, %q): en-v2's queued write was dropped with fr-v2's, and the failed write hides fr only", r.body, r.cache.Hit, r.header.Get("Cache-Status"))
	}
}

// /doc's v1 (no Vary, Variant "") is queued behind a slow write; the
// origin then adds Vary: Accept-Language, and v2's write is dropped for
// a full queue. The drop cancels the queued writes v2 outdates
// (outdatedBy): v1's too, under another Vary list, so it never lands to
// be served after the caller got v2.
func TestDroppedWriteCancelsQueuedWriteOfOtherVaryList(t *testing.T) {
	version := new(atomic.Int64)
	store, release := slowWritesStore()
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		v := version.Load()
		if v >= 2 {
			w.Header().Set("Vary", "Accept-Language")
		}
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "v%d", v)
	}, WithStorage(store))
	version.Store(0)
	h.get("/doc", "Accept-Language", "en")
	h.transport.waitForWrites()
	h.get("/slow")
	waitForWriting(h)
	version.Store(1)
	if r := h.get("/doc", "Accept-Language", "en", "Cache-Control", "no-cache"); r.body != "v1" {
		t.Fatalf("set-up: %q", r.body)
	}
	fillWriteQueue(h) // v2's write does not fit
	version.Store(2)
	if r := h.get("/doc", "Accept-Language", "en", "Cache-Control", "no-cache"); r.body != "v2" {
		t.Fatalf("set-up: %q", r.body)
	}
	close(release)
	h.transport.waitForWrites()
	if r := h.get("/doc", "Accept-Language", "en"); r.body == "v1" || r.body == "v0" {
		t.Fatalf("after the caller got v2 (its write dropped), an older response is served: %q (hit %v, %q)", r.body, r.cache.Hit, r.header.Get("Cache-Status"))
	}
}
