package httpcache

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// Tiered storage whose memory front holds one variant of /r (its bound
// trims the older one; a trustFor expiry of one variant does the same)
// while the disk behind holds both. The origin then fails (503); the en
// variant, stale but within stale-if-error, is on disk, and is served
// (promise 4): a Vary miss in the front asks the store behind
// (Transport.findStored).
func TestTieredFrontWithOtherVariantAsksBehind(t *testing.T) {
	failing := false
	front := NewMemoryStorage(4000) // one of the two entries (about 2.6 kB each)
	r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
		if failing {
			return scriptedReply{status: 503, body: "down", length: -2}
		}
		lang := req.Header.Get("Accept-Language")
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=10, stale-if-error=3600", "Vary", "Accept-Language", "ETag", `"`+lang+`"`),
			body: lang + strings.Repeat(".", 600), length: -2}
	}, WithStorage(must(NewTieredStorage(front, must(NewDiskStorage(t.TempDir(), 0)), time.Hour))), WithSynchronousWrites(true))
	r.do("GET", "/r", "Accept-Language", "en")
	r.do("GET", "/r", "Accept-Language", "fr")
	if entries, _ := front.Get(t.Context(), "http://origin.example/r"); len(entries) != 1 {
		t.Fatalf("set-up: the front holds %d variants, want 1", len(entries))
	}
	r.clock.Advance(20 * time.Second)
	failing = true
	if got := r.do("GET", "/r", "Accept-Language", "fr"); got.status != 200 {
		t.Fatalf("set-up: fr not served stale: %d %q", got.status, got.header.Get("Cache-Status"))
	}
	got := r.do("GET", "/r", "Accept-Language", "en")
	if got.status != 200 || !strings.HasPrefix(got.body, "en") {
		t.Fatalf("en, stored on disk within stale-if-error, not served while the origin fails: %d %q (Cache-Status %q)",
			got.status, got.body, got.header.Get("Cache-Status"))
	}
}

// Two processes' Transports, each with a memory front, share a disk: one
// stores the fr variant, then the other the en one. The second's en request is
// a hit from the disk, not a Vary miss in its front.
func TestTieredFleetFindsAnotherProcesssVariant(t *testing.T) {
	dir := t.TempDir()
	var requests int
	answer := func(n int, req *http.Request) scriptedReply {
		requests++
		lang := req.Header.Get("Accept-Language")
		return scriptedReply{status: 200, header: header("Cache-Control", "max-age=60", "Vary", "Accept-Language"), body: lang, length: -2}
	}
	newProcess := func() *exchangeRig {
		return newExchangeRig(t, answer, WithSynchronousWrites(true),
			WithStorage(must(NewTieredStorage(NewMemoryStorage(1<<20), must(NewDiskStorage(dir, 0)), time.Hour))))
	}
	a, b := newProcess(), newProcess()
	b.do("GET", "/r", "Accept-Language", "fr")
	a.do("GET", "/r", "Accept-Language", "en") // after b's front has fr only
	got := b.do("GET", "/r", "Accept-Language", "en")
	if !got.cache.Hit || got.body != "en" || requests != 2 {
		t.Fatalf("en stored by the other process: hit=%v body %q, %d origin requests (Cache-Status %q)", got.cache.Hit, got.body, requests, got.header.Get("Cache-Status"))
	}
}
