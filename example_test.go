package httpcache_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

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

// A cache on disk outlives the process: a command-line tool's second run is
// served from it.
func ExampleNewDiskStorage() {
	dir, err := os.MkdirTemp("", "httpcache-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	disk, err := httpcache.NewDiskStorage(dir, 512<<20) // at most 512 MiB
	if err != nil {
		panic(err) // the directory cannot be used
	}
	cache := httpcache.New(httpcache.WithStorage(disk))
	defer cache.Close()
	_ = &http.Client{Transport: cache}
}

// An encrypted disk cache, its key from the environment (for example
// CACHE_KEY=$(openssl rand -hex 32)); the previous key, while it is
// rotated out, from another variable.
func ExampleNewEncryptedDiskStorage() {
	current, err := httpcache.ParseKey(os.Getenv("CACHE_KEY"))
	if err != nil {
		current = httpcache.NewKey() // for this example: a key that lives as long as the process
	}
	var previous [][]byte
	if old := os.Getenv("CACHE_KEY_PREVIOUS"); old != "" {
		key, err := httpcache.ParseKey(old)
		if err != nil {
			panic(err) // a key of the wrong size: say so at start
		}
		previous = append(previous, key)
	}
	keys, err := httpcache.NewKeyring(current, previous...)
	if err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "httpcache-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	disk, err := httpcache.NewEncryptedDiskStorage(dir, 512<<20, keys)
	if err != nil {
		panic(err)
	}
	cache := httpcache.New(httpcache.WithStorage(disk))
	defer cache.Close()
	_ = &http.Client{Transport: cache}
}

// Rules for an API that sends no useful cache headers: its responses are
// fresh for 30 seconds, served stale while revalidated for a minute, and
// served stale for an hour when the API is down.
func ExampleWithRules() {
	_, err := httpcache.NewTransport(httpcache.WithRules(
		httpcache.Rule{Pattern: "api.example.com/v1/stream/*", Bypass: true},
		httpcache.Rule{
			Pattern:              "api.example.com/v1/*",
			TTL:                  30 * time.Second,
			StaleWhileRevalidate: time.Minute,
			StaleIfError:         time.Hour,
		},
	))
	fmt.Println(err)

	_, err = httpcache.NewTransport(httpcache.WithRules(httpcache.Rule{Pattern: "api.example.com/v1?page=2", TTL: time.Minute}))
	fmt.Println(err)
	// Output:
	// <nil>
	// httpcache: WithRules: rule 0 ("api.example.com/v1?page=2"): a pattern is a host and a path: no query, fragment or spaces
}

// RequestContext controls the cache for one request, for callers that
// cannot set its headers, such as users of an SDK.
func ExampleRequestContext() {
	ctx := httpcache.RequestContext(context.Background(), httpcache.RequestOptions{Refresh: true})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://api.example.com/v1/users/7", nil)
	if err != nil {
		panic(err)
	}
	_ = req // send it through a client whose Transport is the cache
}

// For a rate-limited API, every identical request in flight shares one,
// whatever the response.
func ExampleWithCoalescing() {
	cache := httpcache.New(httpcache.WithCoalescing(httpcache.CoalesceOptions{All: true}))
	defer cache.Close()
	_ = &http.Client{Transport: cache}
}

// Stats and a response hook tell what the cache did, for dashboards and
// traces.
func ExampleTransport_Stats() {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		fmt.Fprint(w, "hello")
	}))
	defer origin.Close()
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()

	outcomes := map[bool]int{} // hit or not, as a metrics library would count it
	cache := httpcache.New(
		httpcache.WithTransport(upstream),
		httpcache.WithSynchronousWrites(true),
		httpcache.WithResponseHook(func(e httpcache.ResponseEvent) { outcomes[e.Cache.Hit]++ }),
	)
	defer cache.Close()
	client := &http.Client{Transport: cache}
	for range 3 {
		resp, err := client.Get(origin.URL + "/greeting")
		if err != nil {
			panic(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	s := cache.Stats()
	fmt.Println("misses:", s.Requests.Misses, "hits:", s.Requests.FreshHits, "stored:", s.Stored)
	fmt.Println("hook saw hits:", outcomes[true], "others:", outcomes[false])
	// Output:
	// misses: 1 hits: 2 stored: 1
	// hook saw hits: 2 others: 1
}

// An origin tags its responses; one call purges every response with a
// tag, whatever its URL. Entries lists what is stored.
func ExampleTransport_InvalidateTag() {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		w.Header().Set("Cache-Tag", "product-42,"+r.URL.Path[1:])
		fmt.Fprint(w, "about product 42")
	}))
	defer origin.Close()
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	cache := httpcache.New(httpcache.WithTransport(upstream))
	defer cache.Close()
	client := &http.Client{Transport: cache}
	for _, path := range []string{"/product", "/reviews", "/price"} {
		resp, err := client.Get(origin.URL + path)
		if err != nil {
			panic(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	ctx := context.Background()
	removed, err := cache.InvalidateTag(ctx, "price")
	fmt.Println("removed:", removed, err)
	entries, _ := cache.Entries(ctx, origin.URL, 0)
	fmt.Println("left:", len(entries), entries[0].Tags)
	removed, _ = cache.InvalidateTag(ctx, "product-42")
	fmt.Println("removed:", removed)
	// Output:
	// removed: 1 <nil>
	// left: 2 [product-42 product]
	// removed: 2
}

// tenantKey is the context key under which a multi-user service keeps the
// tenant a request is made for.
type tenantKey struct{}

// A multi-user service whose upstream transport adds each tenant's token
// from the request's context: the cache cannot see the token, so a
// partition hook names the tenant, and one tenant's responses never reach
// another.
func ExampleWithPartition() {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age=300")
		fmt.Fprintf(w, "profile of %s", r.Header.Get("X-Tenant"))
	}))
	defer origin.Close()
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	// What an SDK's auth transport does: credentials below the cache.
	withToken := roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		req = req.Clone(req.Context())
		req.Header.Set("X-Tenant", req.Context().Value(tenantKey{}).(string))
		return upstream.RoundTrip(req)
	})
	cache := httpcache.New(
		httpcache.WithTransport(withToken),
		httpcache.WithPartition(func(req *http.Request) string {
			tenant, _ := req.Context().Value(tenantKey{}).(string)
			return tenant
		}),
	)
	defer cache.Close()
	client := &http.Client{Transport: cache}
	for _, tenant := range []string{"acme", "globex", "acme"} {
		ctx := context.WithValue(context.Background(), tenantKey{}, tenant)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, origin.URL+"/me", nil)
		resp, err := client.Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		status, _ := httpcache.StatusOf(resp)
		fmt.Printf("%s: %s hit=%v\n", tenant, body, status.Hit)
	}
	// Output:
	// acme: profile of acme hit=false
	// globex: profile of globex hit=false
	// acme: profile of acme hit=true
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// An SDK client keeps its own transport (retries, auth): the cache wraps
// it, and a nil one means http.DefaultTransport, as for http.Client.
func ExampleWithTransport() {
	sdk := &http.Client{Timeout: 10 * time.Second} // an SDK's client, Transport nil
	cache := httpcache.New(httpcache.WithTransport(sdk.Transport))
	defer cache.Close()
	sdk.Transport = cache
	fmt.Println(sdk.Transport == cache)
	// Output: true
}
