package httpcache

import (
	"net/http"
	"testing"
	"time"
)

// variantStores are the stores each scenario runs on.
func variantStores(t *testing.T) map[string]func() Storage {
	return map[string]func() Storage{
		"memory": func() Storage { return NewMemoryStorage(0) },
		"disk":   func() Storage { return must(NewDiskStorage(t.TempDir(), 0)) },
		"tiered": func() Storage {
			return must(NewTieredStorage(NewMemoryStorage(0), must(NewDiskStorage(t.TempDir(), 0)), time.Hour))
		},
	}
}

// Two variants (en, fr) of /r are stored. A response that concerns en only
// (a 200 no-store, a 304 no-store, a HEAD for en with another ETag) must
// leave fr stored: promise 4, "a response for one variant only replaces or
// removes that one's stored response"; RFC 9111 §4.3.4/§4.3.5 update only
// "stored responses that could have been chosen" for the request.
func TestOneVariantsResponseKeepsTheOthers(t *testing.T) {
	cases := map[string]struct {
		method string
		extra  []string // request fields of the en request that triggers it
		reply  func(req *http.Request) scriptedReply
	}{
		"200-no-store": {"GET", []string{"Cache-Control", "no-cache"}, func(req *http.Request) scriptedReply {
			return scriptedReply{status: 200, header: header("Cache-Control", "no-store", "Vary", "Accept-Language"), body: "new en", length: -2}
		}},
		"304-no-store": {"GET", []string{"Cache-Control", "no-cache"}, func(req *http.Request) scriptedReply {
			return scriptedReply{status: 304, header: header("Cache-Control", "no-store", "Vary", "Accept-Language", "ETag", `"en"`)}
		}},
		"200-vary-star": {"GET", []string{"Cache-Control", "no-cache"}, func(req *http.Request) scriptedReply {
			return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100", "Vary", "*"), body: "new en", length: -2}
		}},
		"404": {"GET", []string{"Cache-Control", "no-cache"}, func(req *http.Request) scriptedReply {
			return scriptedReply{status: 404, header: header("Cache-Control", "no-store", "Vary", "Accept-Language"), body: "no en", length: -2}
		}},
		"head-new-etag": {"HEAD", []string{"Cache-Control", "no-cache"}, func(req *http.Request) scriptedReply {
			return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100", "Vary", "Accept-Language", "ETag", `"en2"`)}
		}},
	}
	for storeName, newStore := range variantStores(t) {
		for name, c := range cases {
			t.Run(storeName+"/"+name, func(t *testing.T) {
				phase := 0
				r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
					lang := req.Header.Get("Accept-Language")
					if phase == 1 && lang == "en" {
						return c.reply(req)
					}
					return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100", "Vary", "Accept-Language", "ETag", `"`+lang+`"`), body: lang, length: -2}
				}, WithStorage(newStore()), WithSynchronousWrites(true))
				r.do("GET", "/r", "Accept-Language", "en")
				r.do("GET", "/r", "Accept-Language", "fr")
				if got := r.do("GET", "/r", "Accept-Language", "fr"); !got.cache.Hit {
					t.Fatalf("set-up: fr not a hit: %+v", got.cache)
				}
				phase = 1
				r.do(c.method, "/r", append([]string{"Accept-Language", "en"}, c.extra...)...)
				phase = 2
				if got := r.do("GET", "/r", "Accept-Language", "fr"); !got.cache.Hit || got.body != "fr" {
					t.Fatalf("after a %s for en, fr is no longer stored: hit %v body %q status %q", name, got.cache.Hit, got.body, got.header.Get("Cache-Status"))
				}
			})
		}
	}
}

// A response stored without Vary (v0) and a later one with Vary:
// Accept-Language (v1, en) both match an en request. A no-store answer to
// it outdates both: each could answer the next en request, so the key
// goes whole (Transport.removeStored), not only the selected v1.
func TestOutdatedResponseRemovesEveryMatchingOne(t *testing.T) {
	for storeName, newStore := range variantStores(t) {
		t.Run(storeName, func(t *testing.T) {
			version := 0
			r := newExchangeRig(t, func(n int, req *http.Request) scriptedReply {
				switch version {
				case 0:
					return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100"), body: "v0", length: -2}
				case 1:
					return scriptedReply{status: 200, header: header("Cache-Control", "max-age=100", "Vary", "Accept-Language"), body: "v1", length: -2}
				}
				return scriptedReply{status: 200, header: header("Cache-Control", "no-store"), body: "v2", length: -2}
			}, WithStorage(newStore()), WithSynchronousWrites(true))
			r.do("GET", "/r", "Accept-Language", "en")
			r.clock.Advance(time.Second)
			version = 1
			r.do("GET", "/r", "Accept-Language", "en", "Cache-Control", "no-cache")
			version = 2
			r.do("GET", "/r", "Accept-Language", "en", "Cache-Control", "no-cache")
			if got := r.do("GET", "/r", "Accept-Language", "en"); got.cache.Hit {
				t.Fatalf("after a no-store answer, an outdated stored response is served: %q (%q)", got.body, got.header.Get("Cache-Status"))
			}
		})
	}
}
