package httpcache

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchOrigin is an in-process upstream: it answers at once with a header
// of typical size, built per response as a real transport would, and a body
// read from memory. The bare benchmarks measure it alone, so the cache's
// benchmarks can be compared with the cost of the round trip they replace.
type benchOrigin struct {
	body     []byte
	header   http.Header
	requests atomic.Int64
	// notModified answers conditional requests with 304.
	notModified bool
}

func newBenchOrigin(size int, cacheControl string) *benchOrigin {
	return &benchOrigin{
		body: bytes.Repeat([]byte("a"), size),
		header: http.Header{
			"Cache-Control":  {cacheControl},
			"Content-Type":   {"application/json"},
			"Content-Length": {strconv.Itoa(size)},
			"Date":           {time.Now().UTC().Format(http.TimeFormat)},
			"Etag":           {`"0123456789abcdef"`},
			"Server":         {"bench"},
		},
	}
}

func (o *benchOrigin) RoundTrip(req *http.Request) (*http.Response, error) {
	o.requests.Add(1)
	if o.notModified && req.Header.Get("If-None-Match") != "" {
		return &http.Response{StatusCode: http.StatusNotModified, Header: o.header.Clone(), Body: http.NoBody, Request: req}, nil
	}
	return &http.Response{
		StatusCode:    http.StatusOK,
		Header:        o.header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(o.body)),
		ContentLength: int64(len(o.body)),
		Request:       req,
	}, nil
}

func benchRequest(b testing.TB) *http.Request {
	req, err := http.NewRequest(http.MethodGet, "https://api.example.com/v1/items/42?fields=all", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	return req
}

// roundTripDrain sends a request and reads and closes the body, as a caller would.
func roundTripDrain(b testing.TB, rt http.RoundTripper, req *http.Request) {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
}

func benchmarkBareUpstream(b *testing.B, size int) {
	origin := newBenchOrigin(size, "max-age=3600")
	req := benchRequest(b)
	b.ReportAllocs()
	b.SetBytes(int64(size))
	for b.Loop() {
		roundTripDrain(b, origin, req)
	}
}

func benchmarkFreshHit(b *testing.B, size int) {
	origin := newBenchOrigin(size, "max-age=3600")
	tr := New(WithTransport(origin))
	defer tr.Close()
	req := benchRequest(b)
	roundTripDrain(b, tr, req) // store it
	b.ReportAllocs()
	b.SetBytes(int64(size))
	for b.Loop() {
		roundTripDrain(b, tr, req)
	}
	if origin.requests.Load() != 1 {
		b.Fatalf("origin saw %d requests; the benchmark did not measure hits", origin.requests.Load())
	}
}

func BenchmarkBareUpstream1KiB(b *testing.B)   { benchmarkBareUpstream(b, 1<<10) }
func BenchmarkFreshHit1KiB(b *testing.B)       { benchmarkFreshHit(b, 1<<10) }
func BenchmarkBareUpstream256KiB(b *testing.B) { benchmarkBareUpstream(b, 256<<10) }
func BenchmarkFreshHit256KiB(b *testing.B)     { benchmarkFreshHit(b, 256<<10) }

// BenchmarkMissAndStore measures a miss whose response is stored: every
// iteration requests a URL not seen before.
func BenchmarkMissAndStore1KiB(b *testing.B) {
	origin := newBenchOrigin(1<<10, "max-age=3600")
	reqs := make([]*http.Request, 0, 1024)
	for i := 0; i < cap(reqs); i++ {
		req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/v1/items/"+strconv.Itoa(i), nil)
		reqs = append(reqs, req)
	}
	var tr *Transport
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%len(reqs) == 0 {
			tr = New(WithTransport(origin)) // a cold cache again
		}
		roundTripDrain(b, tr, reqs[i%len(reqs)])
		i++
	}
	if origin.requests.Load() != int64(i) {
		b.Fatalf("origin saw %d requests for %d misses", origin.requests.Load(), i)
	}
}

// newRevalidating returns a Transport whose stored response is validated
// with a 304 on every request (its origin always sends max-age=0), its
// origin, and the request, sent once.
func newRevalidating(tb testing.TB) (*Transport, *benchOrigin, *http.Request) {
	origin := newBenchOrigin(1<<10, "max-age=0")
	origin.notModified = true
	tr := New(WithTransport(origin))
	req := benchRequest(tb)
	roundTripDrain(tb, tr, req)
	return tr, origin, req
}

// BenchmarkRevalidate304 measures a stale entry validated with a 304: the
// origin's response always has max-age=0.
func BenchmarkRevalidate304(b *testing.B) {
	tr, origin, req := newRevalidating(b)
	defer tr.Close()
	b.ReportAllocs()
	for b.Loop() {
		roundTripDrain(b, tr, req)
	}
	if origin.requests.Load() < 2 {
		b.Fatal("no revalidation happened")
	}
}

func BenchmarkParallelHits1KiB(b *testing.B) {
	origin := newBenchOrigin(1<<10, "max-age=3600")
	tr := New(WithTransport(origin))
	defer tr.Close()
	roundTripDrain(b, tr, benchRequest(b))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := benchRequest(b)
		for pb.Next() {
			roundTripDrain(b, tr, req)
		}
	})
}

// BenchmarkHitOverBare interleaves fresh 1 KiB hits with bare upstream round
// trips and reports the ratio of their costs as hit/bare: the figure the
// hit-path target is stated in.
func BenchmarkHitOverBare(b *testing.B) {
	tr := New(WithTransport(newBenchOrigin(1<<10, "max-age=3600")))
	defer tr.Close()
	ratio := interleavedRatio(b, newBenchOrigin(1<<10, "max-age=3600"), tr)
	b.ReportMetric(ratio, "hit/bare")
}

// BenchmarkHitWithCredentialsOverBare is BenchmarkHitOverBare for a request
// with credentials (Authorization and an API key), which puts it in a
// partition of its own: the fingerprint is computed once, then looked up.
func BenchmarkHitWithCredentialsOverBare(b *testing.B) {
	tr := New(WithTransport(newBenchOrigin(1<<10, "max-age=3600")))
	defer tr.Close()
	req := benchRequest(b)
	req.Header.Set("Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIn0.c2lnbmF0dXJl")
	req.Header.Set("X-Api-Key", "k-0123456789abcdef")
	ratio := interleavedRatioFor(b, req, newBenchOrigin(1<<10, "max-age=3600"), tr)
	b.ReportMetric(ratio, "hit/bare")
}

// BenchmarkRevalidationOverBare is BenchmarkHitOverBare for 304 revalidations.
func BenchmarkRevalidationOverBare(b *testing.B) {
	origin := newBenchOrigin(1<<10, "max-age=0")
	origin.notModified = true
	tr := New(WithTransport(origin))
	defer tr.Close()
	ratio := interleavedRatio(b, newBenchOrigin(1<<10, "max-age=0"), tr)
	b.ReportMetric(ratio, "304/bare")
}

// interleavedRatio runs batches of round trips through bare and through the
// cache in turn, so that both see the same machine conditions, and returns
// the ratio of the time the cache took to the time bare took: steadier on a
// noisy machine than two benchmarks' separate results. The cache is primed
// with one request first.
func interleavedRatio(b *testing.B, bare http.RoundTripper, cache *Transport) float64 {
	return interleavedRatioFor(b, benchRequest(b), bare, cache)
}

// interleavedRatioFor is interleavedRatio for a request of the caller's.
func interleavedRatioFor(b *testing.B, req *http.Request, bare http.RoundTripper, cache *Transport) float64 {
	roundTripDrain(b, cache, req)
	const batch = 64
	var bareTime, cacheTime time.Duration
	for b.Loop() {
		start := time.Now()
		for i := 0; i < batch; i++ {
			roundTripDrain(b, bare, req)
		}
		middle := time.Now()
		for i := 0; i < batch; i++ {
			roundTripDrain(b, cache, req)
		}
		bareTime += middle.Sub(start)
		cacheTime += time.Since(middle)
	}
	return float64(cacheTime) / float64(bareTime)
}

// blockingRevalidations passes the first request to origin and holds every
// later one until release is closed: a slow origin, so that a background
// revalidation is always running.
type blockingRevalidations struct {
	origin  http.RoundTripper
	calls   atomic.Int64
	release chan struct{}
}

func (o *blockingRevalidations) RoundTrip(req *http.Request) (*http.Response, error) {
	if o.calls.Add(1) > 1 {
		<-o.release
	}
	return o.origin.RoundTrip(req)
}

// BenchmarkStaleHitOverFresh interleaves stale-while-revalidate hits (the
// revalidation held at a slow origin, as when SWR matters) with fresh hits
// and reports the ratio of their costs to the caller: stale/fresh.
func BenchmarkStaleHitOverFresh(b *testing.B) {
	fresh := New(WithTransport(newBenchOrigin(1<<10, "max-age=3600")))
	defer fresh.Close()
	slow := &blockingRevalidations{origin: newBenchOrigin(1<<10, "max-age=0, stale-while-revalidate=3600"), release: make(chan struct{})}
	stale := New(WithTransport(slow))
	defer stale.Close()
	defer close(slow.release)
	req := benchRequest(b)
	roundTripDrain(b, fresh, req)
	roundTripDrain(b, stale, req)
	ratio := interleavedRatio(b, fresh, stale)
	if st := func() CacheStatus {
		resp, _ := stale.RoundTrip(req)
		resp.Body.Close()
		s, _ := StatusOf(resp)
		return s
	}(); !st.Hit || st.TTL >= 0 {
		b.Fatalf("not a stale hit: %+v", st)
	}
	if n := slow.calls.Load(); n != 2 {
		b.Fatalf("origin saw %d requests, want the first and one revalidation", n)
	}
	b.ReportMetric(ratio, "stale/fresh")
}

// slowOrigin answers after a fixed delay, with a response that is not
// stored, and records when it answered.
type slowOrigin struct {
	delay    time.Duration
	requests atomic.Int64
	answered atomic.Int64 // UnixNano of the last answer
	body     []byte
}

func (o *slowOrigin) RoundTrip(req *http.Request) (*http.Response, error) {
	o.requests.Add(1)
	time.Sleep(o.delay)
	o.answered.Store(time.Now().UnixNano())
	// Stale at once and without validators, so not stored, yet shared: a
	// no-store response is never shared among callers.
	return &http.Response{StatusCode: 200, Header: http.Header{"Cache-Control": {"max-age=0"}, "Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(o.body)), ContentLength: int64(len(o.body)), Request: req}, nil
}

// BenchmarkCoalescedWaiters sends 200 concurrent identical requests per
// iteration to an origin that takes 2 ms, and reports the extra latency the
// callers see over the origin's: from the origin's answer to each caller
// having its response, as p50 and p99 in microseconds.
func BenchmarkCoalescedWaiters(b *testing.B) {
	const callers = 200
	origin := &slowOrigin{delay: 2 * time.Millisecond, body: bytes.Repeat([]byte("a"), 1<<10)}
	tr := New(WithTransport(origin))
	defer tr.Close()
	var extra []time.Duration
	for b.Loop() {
		var wg sync.WaitGroup
		got := make([]int64, callers)
		start := make(chan struct{})
		for i := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := benchRequest(b)
				<-start
				roundTripDrain(b, tr, req)
				got[i] = time.Now().UnixNano()
			}()
		}
		close(start)
		wg.Wait()
		answered := origin.answered.Load()
		for _, at := range got {
			extra = append(extra, time.Duration(at-answered))
		}
	}
	if origin.requests.Load() > int64(b.N)*2 {
		b.Fatalf("%d origin requests for %d rounds of %d callers", origin.requests.Load(), b.N, callers)
	}
	slices.Sort(extra)
	b.ReportMetric(float64(extra[len(extra)/2].Microseconds()), "p50-extra-µs")
	b.ReportMetric(float64(extra[len(extra)*99/100].Microseconds()), "p99-extra-µs")
	b.ReportMetric(float64(origin.requests.Load())/float64(b.N), "origin-req/round")
}

func benchmarkDiskHit(b *testing.B, size int, keys *Keyring) {
	disk, err := NewDiskStorage(b.TempDir(), 0)
	if keys != nil {
		disk, err = NewEncryptedDiskStorage(b.TempDir(), 0, keys)
	}
	if err != nil {
		b.Fatal(err)
	}
	origin := newBenchOrigin(size, "max-age=3600")
	tr := New(WithTransport(origin), WithStorage(disk))
	defer tr.Close()
	req := benchRequest(b)
	roundTripDrain(b, tr, req)
	tr.waitForWrites() // the hits read the file, not the write queued for it
	b.ReportAllocs()
	b.SetBytes(int64(size))
	for b.Loop() {
		roundTripDrain(b, tr, req)
	}
	upstream := origin.requests.Load() - 1
	b.ReportMetric(float64(upstream)/float64(b.N), "upstream/op")
	if upstream != 0 {
		b.Fatalf("origin saw %d requests during the hits", upstream)
	}
}

// BenchmarkDiskHit1KiB and BenchmarkDiskHit256KiB measure fresh hits from
// a DiskStorage: the file is read on every hit (the page cache keeps it).
func BenchmarkDiskHit1KiB(b *testing.B)   { benchmarkDiskHit(b, 1<<10, nil) }
func BenchmarkDiskHit256KiB(b *testing.B) { benchmarkDiskHit(b, 256<<10, nil) }

// BenchmarkEncryptedDiskHit1KiB and BenchmarkEncryptedDiskHit256KiB are
// the disk hits with NewEncryptedDiskStorage: every hit opens the file's
// segments.
func BenchmarkEncryptedDiskHit1KiB(b *testing.B) {
	benchmarkDiskHit(b, 1<<10, must(NewKeyring(NewKey())))
}

func BenchmarkEncryptedDiskHit256KiB(b *testing.B) {
	benchmarkDiskHit(b, 256<<10, must(NewKeyring(NewKey())))
}

// BenchmarkDiskMissAndStore measures a miss whose response is written to a
// DiskStorage at its bound, as a cache in use is: each store evicts an
// older file, which the next store reuses. Not synced. The caller does not
// wait for the write (it runs behind, on the Transport's writer): ns/op is
// the caller's cost, and stored-µs/op the time until every write is on
// disk, divided by the requests.
func BenchmarkDiskMissAndStore(b *testing.B) {
	benchmarkDiskMissAndStore(b, 256<<10)
}

// BenchmarkDiskFillAndStore is BenchmarkDiskMissAndStore while the cache
// is still filling up: every store creates a file.
func BenchmarkDiskFillAndStore(b *testing.B) {
	benchmarkDiskMissAndStore(b, 1<<40)
}

func benchmarkDiskMissAndStore(b *testing.B, maxBytes int64) {
	disk, err := NewDiskStorage(b.TempDir(), maxBytes)
	if err != nil {
		b.Fatal(err)
	}
	origin := newBenchOrigin(1<<10, "max-age=3600")
	tr := New(WithTransport(origin), WithStorage(disk))
	i := 0
	if maxBytes < 1<<30 {
		// Fill the store to its bound first: the measured stores evict.
		for ; disk.Size() < maxBytes-4<<10 || i < 1024; i++ {
			req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/v1/items/"+strconv.Itoa(i), nil)
			roundTripDrain(b, tr, req)
			tr.waitForWrites() // one at a time: the size is known after each
		}
	}
	b.ReportAllocs()
	requests := 0
	for b.Loop() {
		b.StopTimer()
		req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/v1/items/"+strconv.Itoa(i), nil)
		b.StartTimer()
		roundTripDrain(b, tr, req)
		i++
		requests++
	}
	// b.Loop has stopped the timer. Read your writes: the last response is
	// a hit, from the queue or the file, with no request upstream.
	seen := origin.requests.Load()
	last, _ := http.NewRequest(http.MethodGet, "https://api.example.com/v1/items/"+strconv.Itoa(i-1), nil)
	roundTripDrain(b, tr, last)
	upstream := origin.requests.Load() - seen
	b.ReportMetric(float64(upstream), "upstream-on-rehit")
	if upstream != 0 {
		b.Fatal("the response just stored was fetched again")
	}
	start := time.Now()
	tr.Close() // waits for the writes
	drain := time.Since(start)
	stored := b.Elapsed() + drain
	b.ReportMetric(float64(stored.Microseconds())/float64(requests), "stored-µs/op")
}

// BenchmarkCoalescerAlone measures what coalescing costs a request alone
// at the origin: 304 revalidations through a Transport with coalescing and
// one without, interleaved in batches, with contexts that can be
// cancelled, as http.Client's are; alone-ns/op is the difference of the
// median batches, per request. A median, not a sum: a garbage collection
// or a preemption lands in one batch or the other at random, and each
// costs more than the difference measured.
func BenchmarkCoalescerAlone(b *testing.B) {
	newTransport := func(opts ...Option) *Transport {
		origin := newBenchOrigin(1<<10, "max-age=0")
		origin.notModified = true
		return New(append([]Option{WithTransport(origin)}, opts...)...)
	}
	on, off := newTransport(), newTransport(WithCoalescing(CoalesceOptions{Disabled: true}))
	defer on.Close()
	defer off.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := benchRequest(b).WithContext(ctx)
	roundTripDrain(b, on, req)
	roundTripDrain(b, off, req)
	const batch = 64
	var batches [2][]time.Duration // off, on
	transports := [2]*Transport{off, on}
	for b.Loop() {
		// Each in turn goes first, so that neither pays more often for
		// what the other leaves behind (garbage to collect, a cold cache).
		first := len(batches[0]) % 2
		for _, i := range [2]int{first, 1 - first} {
			start := time.Now()
			for range batch {
				roundTripDrain(b, transports[i], req)
			}
			batches[i] = append(batches[i], time.Since(start))
		}
	}
	median := func(d []time.Duration) time.Duration {
		slices.Sort(d)
		return d[len(d)/2]
	}
	b.ReportMetric(float64(median(batches[1])-median(batches[0]))/batch, "alone-ns/op")
}
