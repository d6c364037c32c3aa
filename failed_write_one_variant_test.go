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

// storeRefusing is a store that can remove one variant (VariantDeleter),
// as the built-in stores can, and refuses the writes refuse reports, as a
// full disk does.
func storeRefusing(refuse func(e *Entry) bool) variantDeleterStore {
	store := variantDeleterStore{newFakeStorage()}
	store.set = func(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
		if refuse(e) {
			return errors.New("disk full")
		}
		return store.memory.Set(ctx, key, e, ttl)
	}
	return store
}

// refusingLanguages is storeRefusing for the writes of the languages
// refused says, by the Variant of Vary: Accept-Language.
func refusingLanguages(refused map[string]bool) variantDeleterStore {
	return storeRefusing(func(e *Entry) bool {
		for lang, refuse := range refused {
			if refuse && strings.Contains(e.Variant, lang) {
				return true
			}
		}
		return false
	})
}

// en is stored; the store then refuses the write of fr's response (a full
// disk, a Redis over its memory, the write queue full). What the store
// holds of fr is outdated, but en is not: the failed write must hide and
// delete fr's stored response only (promise 4: a response for one variant
// only replaces or removes that one's stored response; promise 2: a storage
// error costs a request, not the stored responses of others).
// failedDeletes.filter hides fr's older entries only, and the retry
// deletes fr's alone (deleteFromTier).
func TestFailedWriteOfOneVariantKeepsTheOthers(t *testing.T) {
	store := refusingLanguages(map[string]bool{"fr": true})
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		lang := req.Header.Get("Accept-Language")
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100", "Vary", "Accept-Language"), body: lang, length: -2}
	}, WithStorage(store), WithSynchronousWrites(true))
	r.do("GET", "/r", "Accept-Language", "en")
	if got := r.do("GET", "/r", "Accept-Language", "en"); !got.cache.Hit {
		t.Fatalf("set-up: en not a hit: %q", got.header.Get("Cache-Status"))
	}
	r.do("GET", "/r", "Accept-Language", "fr")
	if got := r.do("GET", "/r", "Accept-Language", "en"); !got.cache.Hit || got.body != "en" {
		t.Fatalf("a refused write of fr hid en: hit %v body %q Cache-Status %q", got.cache.Hit, got.body, got.header.Get("Cache-Status"))
	}
}

// A refused write of fr's new response hides fr's older stored one (it is
// outdated: promise 3), and en's stays; when en's write is refused too,
// before the retries, the record covers both variants.
func TestFailedWriteOfOneVariantHidesItsOlderResponse(t *testing.T) {
	refuse := map[string]bool{}
	store := refusingLanguages(refuse)
	version := 0
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		lang := req.Header.Get("Accept-Language")
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100", "Vary", "Accept-Language"),
			body: lang + strconv.Itoa(version), length: -2}
	}, WithStorage(store), WithSynchronousWrites(true))
	r.do("GET", "/r", "Accept-Language", "en")
	r.do("GET", "/r", "Accept-Language", "fr")
	version = 1
	refuse["fr"] = true
	if got := r.do("GET", "/r", "Accept-Language", "fr", "Cache-Control", "no-cache"); got.body != "fr1" {
		t.Fatalf("set-up: %q", got.body)
	}
	if got := r.do("GET", "/r", "Accept-Language", "fr"); got.body == "fr0" {
		t.Fatalf("fr's outdated response was served after its new one's write failed (Cache-Status %q)", got.header.Get("Cache-Status"))
	}
	if got := r.do("GET", "/r", "Accept-Language", "en"); !got.cache.Hit || got.body != "en0" {
		t.Fatalf("en hidden by fr's refused write: hit %v body %q", got.cache.Hit, got.body)
	}
	refuse["en"] = true
	r.do("GET", "/r", "Accept-Language", "en", "Cache-Control", "no-cache")
	for _, lang := range []string{"en", "fr"} {
		if got := r.do("GET", "/r", "Accept-Language", lang); got.body == lang+"0" {
			t.Fatalf("%s's outdated response served after two variants' writes failed", lang)
		}
	}
}

// The origin starts to send Vary: Accept-Language for /r, whose response
// without Vary (Variant "") is stored. The write of the new response (of
// Variant "accept-language...") is refused. The stored v0 is outdated
// (its caller got v1) and matches every request: the failed write's
// record hides entries under another Vary list too.
func TestFailedWriteHidesOlderEntryOfOtherVaryList(t *testing.T) {
	refuse := false
	store := storeRefusing(func(*Entry) bool { return refuse })
	version := 0
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		h := header("Cache-Control", "max-age=100")
		if version > 0 {
			h.Set("Vary", "Accept-Language")
		}
		return scriptedReply{status: 200, header: h, body: "v" + strconv.Itoa(version), length: -2}
	}, WithStorage(store), WithSynchronousWrites(true))
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
	refuse := map[string]bool{}
	store := refusingLanguages(refuse)
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

// A response without Vary is refused by the store (disk full), then the
// next one for the same URL, also without Vary, is stored fine. That write
// replaced the variant the refused one could not, and answers every
// request of the key: it is served as a hit, and the refused write's
// record is confirmed (failedWrite.replacedBy), so no retry deletes it.
func TestNoVaryRewriteAfterRefusalIsServed(t *testing.T) {
	refuse := false
	store := storeRefusing(func(*Entry) bool { return refuse })
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
	refuse := false
	store := storeRefusing(func(*Entry) bool { return refuse })
	version := 0
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		h := header("Cache-Control", "max-age=100")
		if version < 2 {
			h.Set("Vary", "Accept-Language")
		}
		return scriptedReply{status: 200, header: h, body: "v" + strconv.Itoa(version), length: -2}
	}, WithStorage(store), WithSynchronousWrites(true))
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
