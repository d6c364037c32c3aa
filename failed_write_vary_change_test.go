package httpcache

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The origin starts to send Vary: Accept-Language for /r, whose response
// without Vary (Variant "") is stored. The write of the new response (of
// Variant "accept-language...") is refused. The stored v0 is outdated
// (its caller got v1) and matches every request: the failed write's
// record hides entries under another Vary list too.
func TestFailedWriteHidesOlderEntryOfOtherVaryList(t *testing.T) {
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
		if version > 0 {
			h.Set("Vary", "Accept-Language")
		}
		return scriptedReply{status: 200, header: h, body: "v" + strconv.Itoa(version), length: -2}
	}, WithStorage(variantDeleterStore{store}), WithSynchronousWrites(true))
	r.do("GET", "/r", "Accept-Language", "en")
	if got := r.do("GET", "/r", "Accept-Language", "en"); !got.cache.Hit || got.body != "v0" {
		t.Fatalf("set-up: %v %q", got.cache.Hit, got.body)
	}
	version, refuse = 1, true
	if got := r.do("GET", "/r", "Accept-Language", "en", "Cache-Control", "no-cache"); got.body != "v1" {
		t.Fatalf("set-up: %q", got.body)
	}
	if got := r.do("GET", "/r", "Accept-Language", "en"); got.body == "v0" {
		t.Fatalf("after the caller got v1 and its write failed, the outdated v0 is served again (hit %v, %q)", got.cache.Hit, got.header.Get("Cache-Status"))
	}
	// The retry removes v0 with the key, not v1's variant alone: once it
	// is confirmed, nothing hides v0 any more.
	refuse = false
	r.tr.failedDeletes.retryPass(context.Background(), r.tr)
	if got := r.do("GET", "/r", "Accept-Language", "de"); got.body == "v0" {
		t.Fatalf("after the retry, the outdated v0 is served to another language (hit %v, %q)", got.cache.Hit, got.header.Get("Cache-Status"))
	}
}

// en's and fr's new responses are both refused: the record covers the key
// whole (wholeKey), naming fr's variant. fr's next write succeeds, which
// does not confirm the record: en's outdated en0 stays hidden.
func TestWholeKeyRecordNotConfirmedByOneVariant(t *testing.T) {
	store := newFakeStorage()
	refuse := map[string]bool{}
	store.set = func(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
		for lang, refused := range refuse {
			if refused && strings.Contains(e.Variant, lang) {
				return errors.New("disk full")
			}
		}
		return store.memory.Set(ctx, key, e, ttl)
	}
	version := 0
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		lang := req.Header.Get("Accept-Language")
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100", "Vary", "Accept-Language"),
			body: lang + strconv.Itoa(version), length: -2}
	}, WithStorage(store), WithSynchronousWrites(true))
	r.do("GET", "/r", "Accept-Language", "en")
	r.do("GET", "/r", "Accept-Language", "fr")
	version = 1
	refuse["en"], refuse["fr"] = true, true
	r.do("GET", "/r", "Accept-Language", "en", "Cache-Control", "no-cache")
	r.do("GET", "/r", "Accept-Language", "fr", "Cache-Control", "no-cache")
	version = 2
	refuse["fr"] = false
	if got := r.do("GET", "/r", "Accept-Language", "fr", "Cache-Control", "no-cache"); got.body != "fr2" {
		t.Fatalf("set-up: %q", got.body)
	}
	if got := r.do("GET", "/r", "Accept-Language", "en"); got.body == "en0" {
		t.Fatalf("en's caller got en1 (write refused); after fr's write succeeded, the outdated en0 is served (hit %v, %q)", got.cache.Hit, got.header.Get("Cache-Status"))
	}
}
