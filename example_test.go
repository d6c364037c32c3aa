package httpcache_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/c650553b/httpcache"
)

// An http.Client whose Transport is the cache: the second request is
// answered from memory.
func ExampleNew() {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		fmt.Fprint(w, "hello")
	}))
	defer origin.Close()

	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	cache := httpcache.New(httpcache.WithTransport(upstream))
	defer cache.Close()
	client := &http.Client{Transport: cache}

	for i := 0; i < 2; i++ {
		resp, err := client.Get(origin.URL)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body) // read to the end, so that it is stored
		resp.Body.Close()
		status, _ := httpcache.StatusOf(resp)
		fmt.Printf("%s hit=%v\n", body, status.Hit)
	}
	// Output:
	// hello hit=false
	// hello hit=true
}

// NewTransport reports a bad option when the program starts.
func ExampleNewTransport() {
	_, err := httpcache.NewTransport(httpcache.WithMaxBodyBytes(-1))
	fmt.Println(err)
	// Output: httpcache: WithMaxBodyBytes: -1 is not a positive size
}

// A cache shared by many users, as in a gateway, with a bounded memory
// store of its own.
func ExampleWithShared() {
	cache := httpcache.New(
		httpcache.WithShared(true),
		httpcache.WithStorage(httpcache.NewMemoryStorage(256<<20)),
	)
	defer cache.Close()
	_ = &http.Client{Transport: cache}
}

// StatusOf reads what the cache did from a response's Cache-Status header.
func ExampleStatusOf() {
	resp := &http.Response{Header: http.Header{
		"Cache-Status": {"cdn; hit, httpcache; fwd=stale; fwd-status=304; ttl=60"},
	}}
	status, _ := httpcache.StatusOf(resp)
	fmt.Println(status.Hit, status.Forward, status.ForwardStatus, status.TTL)
	// Output: false stale 304 1m0s
}
