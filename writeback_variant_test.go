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
	store = variantDeleterStore{newFakeStorage()}
	release = make(chan struct{})
	store.set = func(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
		if strings.Contains(key, "/slow") {
			<-release
		}
		return store.memory.Set(ctx, key, e, ttl)
	}
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

func variantQueueWaitWriting(h *harness) {
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
	variantQueueWaitWriting(h)
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
	variantQueueWaitWriting(h)
	version.Store(2)
	if r := h.get("/doc", "Accept-Language", "en", "Cache-Control", "no-cache"); r.body != "en-v2" {
		t.Fatalf("set-up: en refresh got %q", r.body)
	}
	w := h.transport.writes
	w.mu.Lock()
	w.limit = w.pendingBytes + 1 // fr-v2's write does not fit
	w.mu.Unlock()
	if r := h.get("/doc", "Accept-Language", "fr", "Cache-Control", "no-cache"); r.body != "fr-v2" {
		t.Fatalf("set-up: fr refresh got %q", r.body)
	}
	close(release)
	h.transport.waitForWrites()
	if r := h.get("/doc", "Accept-Language", "en"); r.body != "en-v2" {
		t.Fatalf("after the caller got en-v2, en is served as %q (hit %v, %q): en-v2's queued write was dropped with fr-v2's, and the failed write hides fr only", r.body, r.cache.Hit, r.header.Get("Cache-Status"))
	}
}
