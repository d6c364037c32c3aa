package httpcache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// heapInUse returns the live heap after a full collection.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestMemoryStorageHoldsItsBound fills an 8 MiB MemoryStorage to four
// times its bound through the Transport, with entries of several shapes,
// and measures the heap after collection: within 1.25 times the bound plus
// a small constant, whatever the mix.
func TestMemoryStorageHoldsItsBound(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 128 MiB")
	}
	const bound = 8 << 20
	shapes := []struct {
		name   string
		body   int
		fields int
		chunk  bool
		extra  http.Header // fields of the shape's own
	}{
		{name: "empty bodies", body: 0, fields: 6},
		{name: "100-byte bodies", body: 100, fields: 6},
		{name: "small chunked bodies", body: 300, fields: 6, chunk: true},
		{name: "many fields", body: 50, fields: 40},
		{name: "16 KiB bodies", body: 16 << 10, fields: 6},
		// Lists parsed into names of their own: as many as counted, and
		// past maxFieldNames read as unqualified (or Vary: *).
		{name: "no-cache names", body: 10, fields: 2, extra: http.Header{"Cache-Control": {`max-age=3600, no-cache="` + fieldNameList(maxFieldNames) + `"`}}},
		{name: "thousands of no-cache names", body: 10, fields: 2, extra: http.Header{"Cache-Control": {`max-age=3600, no-cache="` + fieldNameList(2000) + `"`}}},
		{name: "Vary names", body: 10, fields: 2, extra: http.Header{"Vary": {fieldNameList(maxFieldNames)}}},
	}
	for _, shape := range shapes {
		t.Run(shape.name, func(t *testing.T) {
			body := bytes.Repeat([]byte("b"), shape.body)
			header := http.Header{"Cache-Control": {"max-age=3600"}, "Content-Type": {"application/json"}}
			for i := 2; i < shape.fields; i++ {
				header["X-Field-"+strconv.Itoa(i)] = []string{"value-" + strconv.Itoa(i)}
			}
			for name, values := range shape.extra {
				header[name] = values
			}
			origin := roundTripFunc(func(req *http.Request) (*http.Response, error) {
				length := int64(len(body))
				if shape.chunk {
					length = -1
				}
				return &http.Response{StatusCode: 200, Header: header.Clone(), ContentLength: length,
					Body: io.NopCloser(bytes.NewReader(body)), Request: req}, nil
			})
			before := heapInUse()
			store := NewMemoryStorage(bound)
			tr := New(WithTransport(origin), WithStorage(store))
			written := int64(0)
			for i := 0; written < 4*bound; i++ {
				req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/items/"+strconv.Itoa(i), nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				written += int64(len(body)) + 200
			}
			used := heapInUse() - before
			t.Logf("heap %.1f MiB for a %d MiB bound (%.2fx); Size() %.1f MiB, %d keys",
				float64(used)/(1<<20), bound>>20, float64(used)/bound, float64(store.Size())/(1<<20), store.Len())
			if limit := int64(bound)*5/4 + 2<<20; used > limit {
				t.Fatalf("the store holds %.1f MiB on the heap, over 1.25x its %d MiB bound", float64(used)/(1<<20), bound>>20)
			}
			if store.Size() > bound {
				t.Fatalf("Size() %d over the bound", store.Size())
			}
			runtime.KeepAlive(tr)
			runtime.KeepAlive(store)
		})
	}
}

// fieldNameList returns n short field names, comma-separated, not
// canonical (each is canonicalised apart when parsed).
func fieldNameList(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = "x" + strconv.Itoa(i)
	}
	return strings.Join(names, ",")
}

// slowBody gives its first kilobyte, then waits for release.
type slowBody struct {
	sent    bool
	release chan struct{}
}

func (b *slowBody) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		return copy(p, bytes.Repeat([]byte("x"), 1024)), nil
	}
	<-b.release
	return 0, io.ErrUnexpectedEOF
}

func (b *slowBody) Close() error { return nil }

// TestCaptureGrowsWithWhatArrives: 200 responses in progress that declare
// 8 MB each but have sent 1 KB hold kilobytes, not 1.6 GB: the copy kept
// for storage grows with what arrives.
func TestCaptureGrowsWithWhatArrives(t *testing.T) {
	release := make(chan struct{})
	origin := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{"Cache-Control": {"max-age=60"}},
			ContentLength: 8 << 20, Body: &slowBody{release: release}, Request: req}, nil
	})
	tr := New(WithTransport(origin))
	defer tr.Close()
	before := heapInUse()
	var bodies []io.ReadCloser
	for i := range 200 {
		req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/big/"+strconv.Itoa(i), nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1024)
		io.ReadFull(resp.Body, buf)
		bodies = append(bodies, resp.Body)
	}
	used := heapInUse() - before
	close(release)
	for _, b := range bodies {
		b.Close()
	}
	t.Logf("200 responses in progress hold %.1f MiB", float64(used)/(1<<20))
	if used > 32<<20 {
		t.Fatalf("200 responses in progress hold %.1f MiB: their copies were sized by what they declared", float64(used)/(1<<20))
	}
}

// TestHugeBodyLimitDoesNotOverflow: WithMaxBodyBytes(math.MaxInt64) is a
// limit like any other: callers sharing a response get all of its body.
func TestHugeBodyLimitDoesNotOverflow(t *testing.T) {
	origin := newGatedOrigin()
	tr := New(WithTransport(origin), WithMaxBodyBytes(math.MaxInt64))
	defer tr.Close()
	outcomes := concurrentGets(t, tr, origin, 10, "http://api.example/huge-limit")
	for i, o := range outcomes {
		if o.err != nil || o.body != "body of /huge-limit" {
			t.Fatalf("caller %d: %q, %v", i, o.body, o.err)
		}
	}
}

// TestStoredKeysHoldOnlyTheKey: what a store keeps as a key is the key
// alone, never a part of a larger string such as the coalescer's identity,
// which holds every request header value: 4,000 misses with a 16 KiB
// request header each, into an 8 MiB store, hold the bound on the heap
// with coalescing on and off. (A key cut out of the identity once kept
// 75 MiB alive, credentials included.)
func TestStoredKeysHoldOnlyTheKey(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 64 MiB of request headers")
	}
	for _, coalesce := range []bool{false, true} {
		t.Run("coalesce="+strconv.FormatBool(coalesce), func(t *testing.T) {
			const bound = 8 << 20
			origin := roundTripFunc(func(req *http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: 200, Header: http.Header{"Cache-Control": {"max-age=3600"}},
					ContentLength: 2, Body: io.NopCloser(bytes.NewReader([]byte("ok"))), Request: req}, nil
			})
			large := string(bytes.Repeat([]byte("v"), 16<<10))
			before := heapInUse()
			store := NewMemoryStorage(bound)
			opts := []Option{WithTransport(origin), WithStorage(store)}
			if !coalesce {
				opts = append(opts, WithCoalescing(CoalesceOptions{Disabled: true}))
			}
			tr := New(opts...)
			defer tr.Close()
			for i := range 4000 {
				req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/items/"+strconv.Itoa(i), nil)
				req.Header.Set("X-Baggage", large)
				roundTripDrain(t, tr, req)
			}
			used := heapInUse() - before
			if limit := int64(bound)*5/4 + 2<<20; used > limit {
				t.Errorf("%d keys hold %.1f MiB of heap for an %d MiB bound", store.Len(), float64(used)/(1<<20), bound>>20)
			}
		})
	}
}

// TestReplacedEntriesAreLetGo: a key whose response is replaced by another
// keeps only the new one alive, so that the heap holds the bound when every
// entry is replaced again and again. (A store that kept a key's first
// entry in the key's own record kept it for as long as the key lived: 1.6
// times the bound here.)
func TestReplacedEntriesAreLetGo(t *testing.T) {
	const bound = 8 << 20
	ctx := context.Background()
	before := heapInUse()
	store := NewMemoryStorage(bound)
	for round := range 4 {
		for i := range 110 {
			e := &Entry{StatusCode: 200, Header: http.Header{"Content-Type": {"text/plain"}}, RequestTime: time.Now(), ResponseTime: time.Now(),
				Body: BytesBody(bytes.Repeat([]byte{byte('a' + round)}, 64<<10))}
			if err := store.Set(ctx, "https://api.example.com/items/"+strconv.Itoa(i), e, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
	}
	used := heapInUse() - before
	if limit := int64(bound)*5/4 + 2<<20; used > limit {
		t.Errorf("%d keys, %.1f MiB counted, hold %.1f MiB of heap for an %d MiB bound",
			store.Len(), float64(store.Size())/(1<<20), float64(used)/(1<<20), bound>>20)
	}
	runtime.KeepAlive(store)
}

// TestMemoryExpiryAtTheTransportsReading: with the system clock, a hit
// reads the clock once and the memory store times its expiry by that
// reading (getKeyBytesAt), as it does by its own in Get.
func TestMemoryExpiryAtTheTransportsReading(t *testing.T) {
	m := NewMemoryStorage(1 << 20)
	entry := &Entry{StatusCode: 200, Header: http.Header{"Cache-Control": {"max-age=60"}}, Body: BytesBody("x")}
	if err := m.Set(context.Background(), "k", entry, time.Minute); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, tt := range []struct {
		at   time.Time
		kept bool
	}{{now, true}, {now.Add(59 * time.Second), true}, {now.Add(2 * time.Minute), false}} {
		if got := m.getKeyBytesAt([]byte("k"), tt.at); (len(got) == 1) != tt.kept {
			t.Fatalf("at %v: %d variants, want kept %v", tt.at.Sub(now), len(got), tt.kept)
		}
	}
	if got, _ := m.Get(context.Background(), "k"); len(got) != 0 {
		t.Fatal("the expired variant was not removed")
	}
}

// decodingStore keeps entries encoded, as Redis does, and decodes them with
// an EntryDecoder, as storage/redisstore does.
type decodingStore struct {
	mu      sync.Mutex
	encoded map[string][]byte
	decoder *EntryDecoder
}

func (s *decodingStore) Get(_ context.Context, key string) ([]*Entry, error) {
	s.mu.Lock()
	b, decoder := s.encoded[key], s.decoder
	s.mu.Unlock()
	if b == nil {
		return nil, nil
	}
	return decoder.UnmarshalAlone(b)
}

func (s *decodingStore) Set(_ context.Context, key string, e *Entry, _ time.Duration) error {
	b, err := MarshalEntry(e)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.encoded[key] = b
	s.mu.Unlock()
	return nil
}

func (s *decodingStore) Delete(context.Context, string) error    { return nil }
func (s *decodingStore) DeleteURL(context.Context, string) error { return nil }

// TestEntryDecoderHoldsItsBound fills an 8 MiB EntryDecoder through the
// Transport with entries whose headers hold the longest field-name lists
// (which the Transport parses into strings of their own) and measures the
// heap it holds: within 1.25 times its bound plus a small constant, as a
// MemoryStorage's. Counting only the encoding and the header, it held 1.8
// times its bound (found by a review).
func TestEntryDecoderHoldsItsBound(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 8 MiB of decoded entries")
	}
	const bound = 8 << 20
	lists := http.Header{
		"Cache-Control": {`max-age=3600, no-cache="` + fieldNameList(maxFieldNames) + `", private="` + fieldNameList(maxFieldNames) + `"`},
		"Vary":          {fieldNameList(maxFieldNames)},
	}
	for _, bodySize := range []int{2 << 10, 4 << 10} {
		t.Run(strconv.Itoa(bodySize), func(t *testing.T) {
			body := bytes.Repeat([]byte("b"), bodySize)
			header := http.Header{"Content-Type": {"application/json"}}
			for name, values := range lists {
				header[name] = values
			}
			origin := roundTripFunc(func(req *http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: http.StatusOK, Header: header.Clone(), ContentLength: int64(len(body)),
					Body: io.NopCloser(bytes.NewReader(body)), Request: req}, nil
			})
			store := &decodingStore{encoded: make(map[string][]byte), decoder: NewEntryDecoder(0)}
			tr := New(WithTransport(origin), WithStorage(store), WithSynchronousWrites(true))
			defer tr.Close()
			get := func(i int) {
				req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/items/"+strconv.Itoa(i), nil)
				roundTripDrain(t, tr, req)
			}
			for i := range 4000 {
				get(i) // stored
			}
			before := heapInUse()
			store.mu.Lock()
			store.decoder = NewEntryDecoder(bound)
			store.mu.Unlock()
			for range 2 {
				for i := range 4000 {
					get(i) // hits, decoded and kept
				}
			}
			used := heapInUse() - before
			if limit := int64(bound)*5/4 + 2<<20; used > limit {
				t.Errorf("the decoder holds %.1f MiB for its 8 MiB bound (it counts %.1f MiB)", float64(used)/(1<<20), float64(store.decoder.kept.held.Load())/(1<<20))
			}
			runtime.KeepAlive(store)
		})
	}
}

// TestWriteQueueCountsKeys: the bound of the queue of writes behind the
// requests counts each write's key, which a request chooses (a long URL)
// and the queue holds: it counted the entry alone, so a stuck store's
// queue held 30 times its bound in 32 KiB keys (found by a probe).
func TestWriteQueueCountsKeys(t *testing.T) {
	store := newFakeStorage()
	stuck := make(chan struct{})
	store.set = func(context.Context, string, *Entry, time.Duration) error { <-stuck; return nil }
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "x")
	}, WithStorage(store), WithCloseTimeout(time.Millisecond), WithLogger(slog.New(slog.DiscardHandler)))
	defer close(stuck) // before the harness's Close, deferred earlier
	const limit = 1 << 20
	h.transport.writes.mu.Lock()
	h.transport.writes.limit = limit
	h.transport.writes.mu.Unlock()
	long := "/" + strings.Repeat("a", 32<<10)
	for i := range 100 {
		h.get(long + "/" + strconv.Itoa(i))
	}
	writes, counted := h.transport.writes.queued()
	if writes == 0 {
		t.Fatal("no write queued: the test proved nothing")
	}
	if keys := (writes + 1) * int64(len(long)); counted < keys || counted > limit {
		t.Fatalf("%d writes queued under 32 KiB keys count %d bytes; want at least their keys' %d and at most the bound %d", writes, counted, keys, limit)
	}
}

// TestFailedWritesHoldTheirBound: what an outage makes the Transport
// remember (failed writes and deletes, to hide and retry) is bounded by
// the bytes of the keys too, not by their number alone: 1,000 failed
// writes under 32 KiB keys held 41 MB (found by a probe). The oldest are
// dropped first; the latest stays hidden.
func TestFailedWritesHoldTheirBound(t *testing.T) {
	store := newFakeStorage()
	down := errors.New("store down")
	store.set = func(context.Context, string, *Entry, time.Duration) error { return down }
	store.delete = func(context.Context, string) error { return down }
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "x")
	}, WithStorage(store), WithSynchronousWrites(true), WithLogger(slog.New(slog.DiscardHandler)))
	long := "/" + strings.Repeat("a", 32<<10)
	before := heapInUse()
	const requests = 1000
	for i := range requests {
		h.get(long + "/" + strconv.Itoa(i))
	}
	held := heapInUse() - before
	f := h.transport.failedDeletes
	f.mu.Lock()
	count, bytes, last := f.size(), f.bytes, f.writes
	_, lastHidden := last[cacheKey(must(url.Parse(h.origin.URL+long+"/"+strconv.Itoa(requests-1))))]
	_, firstHidden := last[cacheKey(must(url.Parse(h.origin.URL+long+"/0")))]
	f.mu.Unlock()
	if bytes > maxFailedDeleteBytes || count >= requests {
		t.Fatalf("%d records of %d bytes remembered; the bound is %d bytes", count, bytes, maxFailedDeleteBytes)
	}
	if !lastHidden || firstHidden {
		t.Fatalf("the latest failed write remembered: %v, the first: %v; want the oldest dropped first", lastHidden, firstHidden)
	}
	if held > maxFailedDeleteBytes*3/2 {
		t.Fatalf("the remembered failures hold %d bytes of heap, for a bound of %d", held, maxFailedDeleteBytes)
	}
}
