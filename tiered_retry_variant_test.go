package httpcache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A TieredStorage's store behind refuses fr's write; the retry of the
// failed write removes fr alone from that tier, through tieredBehind's
// DeleteVariant: en stays in the store behind.
func TestTieredRetryRemovesOwnVariantOnly(t *testing.T) {
	back := variantDeleterStore{newFakeStorage()}
	var refuse atomic.Bool
	var docKey atomic.Value
	back.set = func(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
		docKey.Store(key)
		if refuse.Load() && strings.Contains(e.Variant, "fr") {
			return errors.New("refused")
		}
		return back.memory.Set(ctx, key, e, ttl)
	}
	tiered := must(NewTieredStorage(NewMemoryStorage(0), back, time.Hour))
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Accept-Language")
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprint(w, r.Header.Get("Accept-Language"))
	}, WithStorage(tiered))
	h.get("/doc", "Accept-Language", "en")
	h.transport.waitForWrites()
	refuse.Store(true)
	h.get("/doc", "Accept-Language", "fr")
	h.transport.waitForWrites()
	h.transport.failedDeletes.retryPass(context.Background(), h.transport)
	entries, _ := back.memory.Get(context.Background(), docKey.Load().(string))
	if len(entries) != 1 {
		t.Fatalf("after the retry of fr's refused write, the store behind holds %d variants, want en's alone", len(entries))
	}
}
