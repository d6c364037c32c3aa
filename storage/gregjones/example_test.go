package gregjones_test

import (
	"net/http"

	gjhttpcache "github.com/gregjones/httpcache"
	"github.com/gregjones/httpcache/diskcache"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/gregjones"
)

// Moving from gregjones/httpcache: the backend stays, the transport
// changes. Entries go under keys of their own, so both caches may share a
// backend while the move is under way.
func ExampleNew() {
	cache := httpcache.New(httpcache.WithStorage(gregjones.New(diskcache.New("/var/cache/app"))))
	defer cache.Close()
	client := &http.Client{Transport: cache}
	_ = client
}

// What ExampleNew replaces: gregjones/httpcache's own transport.
func Example_before() {
	t := gjhttpcache.NewTransport(diskcache.New("/var/cache/app"))
	client := t.Client()
	_ = client
}
