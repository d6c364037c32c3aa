package bench

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	ghttpcache "github.com/gregjones/httpcache"
)

// upstream answers at once, as an in-process origin: a 1 KiB body with
// the Cache-Control it is given, an ETag, and 304 to a request that
// carries it back.
type upstream struct {
	cacheControl string
	body         []byte
	date         string
	requests     atomic.Int64
}

func newUpstream(cacheControl string) *upstream {
	return &upstream{cacheControl: cacheControl, body: bytes.Repeat([]byte("a"), 1<<10), date: time.Now().UTC().Format(http.TimeFormat)}
}

func (u *upstream) RoundTrip(req *http.Request) (*http.Response, error) {
	u.requests.Add(1)
	header := http.Header{
		"Cache-Control": {u.cacheControl},
		"Content-Type":  {"application/json"},
		"Date":          {u.date},
		"Etag":          {`"v1"`},
	}
	if req.Header.Get("If-None-Match") == `"v1"` {
		return &http.Response{StatusCode: http.StatusNotModified, Header: header, Body: http.NoBody, Request: req, ProtoMajor: 1, ProtoMinor: 1}, nil
	}
	header["Content-Length"] = []string{strconv.Itoa(len(u.body))}
	return &http.Response{StatusCode: http.StatusOK, Header: header, ContentLength: int64(len(u.body)),
		Body: io.NopCloser(bytes.NewReader(u.body)), Request: req, ProtoMajor: 1, ProtoMinor: 1}, nil
}

// cacheUnderTest builds a cache over an upstream.
type cacheUnderTest struct {
	name string
	over func(http.RoundTripper) http.RoundTripper
}

var caches = []cacheUnderTest{
	{"httpcache", func(up http.RoundTripper) http.RoundTripper { return httpcache.New(httpcache.WithTransport(up)) }},
	{"gregjones", func(up http.RoundTripper) http.RoundTripper {
		t := ghttpcache.NewTransport(ghttpcache.NewMemoryCache())
		t.Transport = up
		return t
	}},
}

func roundTrip(tb testing.TB, rt http.RoundTripper, url string) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		tb.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// scenario is one kind of request: the Cache-Control the upstream sends,
// and the URL of the i-th request (the same one for hits and
// revalidations, a new one for misses).
type scenario struct {
	name         string
	cacheControl string
	url          func(i int) string
}

var scenarios = []scenario{
	{"FreshHit1KiB", "max-age=3600", func(int) string { return "https://api.example.com/v1/items/42" }},
	{"MissAndStore1KiB", "max-age=3600", func(i int) string { return "https://api.example.com/v1/items/" + strconv.Itoa(i) }},
	{"Revalidate304", "max-age=0", func(int) string { return "https://api.example.com/v1/items/42" }},
}

// BenchmarkCompare runs each scenario through each cache, in batches
// interleaved with the bare upstream, and reports the cache's time as a
// ratio to the bare round trip (x-bare) and its allocations per request
// (allocs/req, making the request included).
func BenchmarkCompare(b *testing.B) {
	for _, s := range scenarios {
		for _, c := range caches {
			b.Run(s.name+"/"+c.name, func(b *testing.B) {
				bare := newUpstream(s.cacheControl)
				cache := c.over(newUpstream(s.cacheControl))
				roundTrip(b, cache, s.url(-1)) // primes hits and revalidations
				const batch = 64
				var bareTime, cacheTime time.Duration
				i := 0
				for b.Loop() {
					start := time.Now()
					for range batch {
						roundTrip(b, bare, s.url(-1))
					}
					middle := time.Now()
					for range batch {
						roundTrip(b, cache, s.url(i))
						i++
					}
					bareTime += middle.Sub(start)
					cacheTime += time.Since(middle)
				}
				b.ReportMetric(float64(cacheTime)/float64(bareTime), "x-bare")
				n := i
				b.ReportMetric(testing.AllocsPerRun(200, func() { roundTrip(b, cache, s.url(n)); n++ }), "allocs/req")
				if closer, ok := cache.(interface{ Close() error }); ok {
					closer.Close()
				}
			})
		}
	}
}

// TestScenarios checks that each cache behaves in each scenario as the
// benchmark assumes: hits do not reach the upstream, misses do, and
// revalidations send one conditional request each.
func TestScenarios(t *testing.T) {
	wantRequests := map[string]int64{"FreshHit1KiB": 1, "MissAndStore1KiB": 11, "Revalidate304": 11}
	for _, s := range scenarios {
		for _, c := range caches {
			up := newUpstream(s.cacheControl)
			cache := c.over(up)
			roundTrip(t, cache, s.url(-1))
			for i := range 10 {
				roundTrip(t, cache, s.url(i))
			}
			if got := up.requests.Load(); got != wantRequests[s.name] {
				t.Errorf("%s through %s: %d upstream requests, want %d", s.name, c.name, got, wantRequests[s.name])
			}
			if closer, ok := cache.(interface{ Close() error }); ok {
				closer.Close()
			}
		}
	}
}
