package httpcache

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// en (small) is stored under /r with Vary: Accept-Language. Then fr's
// response is larger than the whole store's bound (but within
// WithMaxBodyBytes). It cannot be stored, but it supersedes nothing but fr:
// en must stay (promise 4: a response for one variant only replaces or
// removes that one's stored response): MemoryStorage.Set and DiskStorage.Set
// delete that variant alone for an entry over the bound.
func TestOversizeVariantKeepsTheOthers(t *testing.T) {
	const bound = 64 << 10
	stores := map[string]func() Storage{
		"memory": func() Storage { return NewMemoryStorage(bound) },
		"disk":   func() Storage { return must(NewDiskStorage(t.TempDir(), bound)) },
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
				lang := req.Header.Get("Accept-Language")
				body := lang
				if lang == "fr" {
					body = strings.Repeat("f", 2*bound)
				}
				return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100", "Vary", "Accept-Language"), body: body, length: -2}
			}, WithStorage(newStore()), WithSynchronousWrites(true))
			r.do("GET", "/r", "Accept-Language", "en")
			if got := r.do("GET", "/r", "Accept-Language", "en"); !got.cache.Hit {
				t.Fatalf("set-up: en not a hit: %q", got.header.Get("Cache-Status"))
			}
			r.do("GET", "/r", "Accept-Language", "fr")
			r.clock.Advance(time.Second)
			if got := r.do("GET", "/r", "Accept-Language", "en"); !got.cache.Hit || got.body != "en" {
				t.Fatalf("fr's oversized response removed en: hit %v body %q Cache-Status %q", got.cache.Hit, got.body, got.header.Get("Cache-Status"))
			}
		})
	}
}
