package httpcache

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// A response without Vary is refused by the store (disk full), then the
// next one for the same URL, also without Vary, is stored fine. That write
// replaced the variant the refused one could not, and answers every
// request of the key: it is served as a hit, and the refused write's
// record is confirmed (failedWrite.replacedBy), so no retry deletes it.
func TestNoVaryRewriteAfterRefusalIsServed(t *testing.T) {
	store := newFakeStorage()
	refuse := false
	store.set = func(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
		if refuse {
			return errors.New("disk full")
		}
		return store.memory.Set(ctx, key, e, ttl)
	}
	version := 0
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100"), body: "v" + strconv.Itoa(version), length: -2}
	}, WithStorage(store), WithSynchronousWrites(true))
	r.do("GET", "/r")
	version, refuse = 1, true
	r.do("GET", "/r", "Cache-Control", "no-cache") // v1's write refused
	version, refuse = 2, false
	if got := r.do("GET", "/r", "Cache-Control", "no-cache"); got.body != "v2" {
		t.Fatalf("set-up: %q", got.body)
	}
	if got := r.do("GET", "/r"); !got.cache.Hit || got.body != "v2" {
		t.Errorf("v2 was stored after v1's refused write: want a hit on v2, got hit %v %q (%q)", got.cache.Hit, got.body, got.header.Get("Cache-Status"))
	}
	r.tr.failedDeletes.retryPass(context.Background(), r.tr)
	if got := r.do("GET", "/r"); !got.cache.Hit || got.body != "v2" {
		t.Errorf("after the retry of v1's refused write: want a hit on v2 (stored after it), got hit %v %q (%q)", got.cache.Hit, got.body, got.header.Get("Cache-Status"))
	}
}

// The origin drops Vary: en's v1 (Vary: Accept-Language) is refused, then
// v2 without Vary is stored fine. v2 is newer than everything stored and
// matches every request: it confirms the record and is a hit.
func TestNewerEntryOfOtherVaryListAfterRefusalIsServed(t *testing.T) {
	store := newFakeStorage()
	refuse := false
	store.set = func(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
		if refuse {
			return errors.New("disk full")
		}
		return store.memory.Set(ctx, key, e, ttl)
	}
	version := 0
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		h := header("Cache-Control", "max-age=100")
		if version < 2 {
			h.Set("Vary", "Accept-Language")
		}
		return scriptedReply{status: 200, header: h, body: "v" + strconv.Itoa(version), length: -2}
	}, WithStorage(variantDeleterStore{store}), WithSynchronousWrites(true))
	r.do("GET", "/r", "Accept-Language", "en")
	version, refuse = 1, true
	r.do("GET", "/r", "Accept-Language", "en", "Cache-Control", "no-cache") // v1's write refused
	version, refuse = 2, false
	r.clock.Advance(time.Second) // v2 is the most recent (RFC 9111 §4.1)
	if got := r.do("GET", "/r", "Accept-Language", "en", "Cache-Control", "no-cache"); got.body != "v2" {
		t.Fatalf("set-up: %q", got.body)
	}
	if got := r.do("GET", "/r", "Accept-Language", "en"); !got.cache.Hit || got.body != "v2" {
		t.Errorf("v2 (no Vary) was stored after v1's refused write: want a hit on v2, got hit %v %q (%q)", got.cache.Hit, got.body, got.header.Get("Cache-Status"))
	}
}
