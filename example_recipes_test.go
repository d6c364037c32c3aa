package httpcache_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/c650553b/httpcache"
)

// The recipes of the README, one per use. Those without an Output comment
// are compiled, not run: they name real addresses and directories.

// The cache as an http.Client's transport: a private cache, in memory.
func Example_client() {
	cache := httpcache.New() // a private cache, 64 MiB in memory
	defer cache.Close()
	client := &http.Client{Transport: cache}

	resp, err := client.Get("https://api.example.com/v1/items/42")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body) // read to the end: a body is stored once it has arrived whole
	if err != nil {
		log.Fatal(err)
	}
	_ = body
}

// A third-party API that is slow, fails now and then, rate-limits and
// sends no useful cache headers: its responses are kept a minute, served
// stale while revalidated for ten, and served stale for a day while the
// API fails or answers 429; identical requests in flight share one, and
// the cache honours Retry-After (on by default).
func Example_rateLimitedAPI() {
	cache, err := httpcache.NewTransport(
		// A hanging API counts as failing once the transport gives up.
		httpcache.WithTransport(&http.Transport{ResponseHeaderTimeout: 5 * time.Second}),
		httpcache.WithRules(httpcache.Rule{
			Pattern:              "api.example.com",
			TTL:                  time.Minute,
			StaleWhileRevalidate: 10 * time.Minute,
			StaleIfError:         24 * time.Hour,
			ErrorStatuses:        []int{429},
		}),
		httpcache.WithCoalescing(httpcache.CoalesceOptions{All: true}),
	)
	if err != nil {
		log.Fatal(err) // a rule the cache cannot use, named
	}
	defer cache.Close()
	client := &http.Client{Transport: cache, Timeout: 10 * time.Second}
	_ = client
}

// A command-line tool whose second run is served from what the first
// stored: a disk store in the user's cache directory, written before each
// request returns, since a tool may exit without Close.
func Example_commandLineTool() {
	dir, err := os.UserCacheDir() // ~/.cache on Linux
	if err != nil {
		log.Fatal(err)
	}
	disk, err := httpcache.NewDiskStorage(filepath.Join(dir, "mytool", "http"), 256<<20)
	if err != nil {
		log.Fatal(err) // not a directory, not writable, or others may write to it
	}
	cache := httpcache.New(httpcache.WithStorage(disk), httpcache.WithSynchronousWrites(true))
	defer cache.Close()
	client := &http.Client{Transport: cache}
	_ = client
}

// A service that calls an API on behalf of its users, each with their own
// credentials in the request: nothing to configure, each user's responses
// are stored in a partition of their own, whatever the API's headers say.
// An API key in a header of the API's own is named once.
func Example_multiUserService() {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300") // and no Vary: a careless API
		fmt.Fprintf(w, "profile of %s", r.Header.Get("X-Goog-Api-Key"))
	}))
	defer origin.Close()
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()

	cache := httpcache.New(
		httpcache.WithTransport(upstream),
		httpcache.WithExtraCredentialFields("X-Goog-Api-Key"), // beside Authorization, Cookie, X-Api-Key, ...
	)
	defer cache.Close()
	client := &http.Client{Transport: cache}

	for _, user := range []string{"ann", "bob", "ann"} {
		req, _ := http.NewRequest(http.MethodGet, origin.URL+"/me", nil)
		req.Header.Set("X-Goog-Api-Key", user)
		resp, err := client.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		status, _ := httpcache.StatusOf(resp)
		fmt.Printf("%s: %s hit=%v\n", user, body, status.Hit)
	}
	// Output:
	// ann: profile of ann hit=false
	// bob: profile of bob hit=false
	// ann: profile of ann hit=true
}

// Rules for APIs whose cache headers are missing or wrong, matched in
// order on host and path; the first match applies.
func ExampleRule() {
	cache, err := httpcache.NewTransport(
		httpcache.WithTransport(&http.Transport{ResponseHeaderTimeout: 2 * time.Second}),
		httpcache.WithRules(
			// Live data: never cached.
			httpcache.Rule{Pattern: "api.example.com/v1/stream/*", Bypass: true},
			// Sends "Cache-Control: no-cache" on data that is fine for 30 s.
			httpcache.Rule{Pattern: "api.example.com/v1/users/*", TTL: 30 * time.Second, Override: true,
				StaleWhileRevalidate: time.Minute, StaleIfError: time.Hour},
			// 404s of the catalogue: remembered for 10 minutes.
			httpcache.Rule{Pattern: "api.example.com/v1/items/*", Statuses: []int{404}, TTL: 10 * time.Minute},
			// Everything else: 5 s where the response says nothing, and a
			// day of stale answers while the API is down.
			httpcache.Rule{TTL: 5 * time.Second, StaleIfError: 24 * time.Hour},
		),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()
}

// Query parameters the responses do not depend on are left out of storage
// keys, and the others sorted, so that such requests share one entry.
func ExampleWithIgnoredQueryParams() {
	cache := httpcache.New(
		httpcache.WithIgnoredQueryParams("utm_*", "fbclid", "_"), // globs, matched on the unescaped name, with case
		httpcache.WithSortedQuery(true),                          // ?a=1&b=2 and ?b=2&a=1 share an entry
		httpcache.WithRules(httpcache.Rule{Pattern: "api.example.com/v1/*", IgnoredQueryParams: []string{"cb"}}),
	)
	defer cache.Close()
}
