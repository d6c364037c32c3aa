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

// en is stored; the store then refuses the write of fr's response (a full
// disk, a Redis over its memory, the write queue full). What the store
// holds of fr is outdated, but en is not: the failed write must hide and
// delete fr's stored response only (promise 4: a response for one variant
// only replaces or removes that one's stored response; promise 2: a storage
// error costs a request, not the stored responses of others).
// failedDeletes.filter hides fr's older entries only, and the retry
// deletes fr's alone (deleteFromTier).
func TestFailedWriteOfOneVariantKeepsTheOthers(t *testing.T) {
	store := newFakeStorage()
	store.set = func(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
		if strings.Contains(e.Variant, "fr") {
			return errors.New("disk full")
		}
		return store.memory.Set(ctx, key, e, ttl)
	}
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
