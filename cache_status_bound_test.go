package httpcache

import (
	"bytes"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// cacheStatusList returns a valid Cache-Status list of about n bytes, as
// an origin (or a cache before it) may send.
func cacheStatusList(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("c" + strconv.Itoa(i))
	}
	return b.String()
}

// A plain hit keeps its Cache-Status on the entry (hitFields), and that
// repeats the stored Cache-Status, which the origin (or a cache before it)
// writes: every bound that holds entries counts it (entrySize). Without,
// an origin's large Cache-Status made a MemoryStorage hold twice its bound,
// and the kept decoded entries 1.5 times theirs.

// TestDecoderBoundWithLargeCacheStatus: an EntryDecoder (the Redis and
// gregjones stores') holds its bound with a 16 KiB Cache-Status.
func TestDecoderBoundWithLargeCacheStatus(t *testing.T) {
	decoderBound(t, "Cache-Status", 16<<10)
}

func decoderBound(t *testing.T, field string, size int) {
	if testing.Short() {
		t.Skip("fills 8 MiB")
	}
	const bound = 8 << 20
	cs := cacheStatusList(size)
	body := bytes.Repeat([]byte("b"), 100)
	origin := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{
			"Cache-Control": {"max-age=3600"}, field: {cs}},
			ContentLength: int64(len(body)), Body: io.NopCloser(bytes.NewReader(body)), Request: req}, nil
	})
	store := &decodingStore{encoded: make(map[string][]byte), decoder: NewEntryDecoder(0)}
	tr := New(WithTransport(origin), WithStorage(store), WithSynchronousWrites(true))
	defer tr.Close()
	get := func(i int) {
		req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/items/"+strconv.Itoa(i), nil)
		roundTripDrain(t, tr, req)
	}
	const n = 600
	for i := range n {
		get(i)
	}
	before := heapInUse()
	store.mu.Lock()
	store.decoder = NewEntryDecoder(bound)
	store.mu.Unlock()
	for i := range n {
		get(i) // decoded, kept, marked seen
		get(i) // kept: hitFields stored on the entry
		get(i)
	}
	used := heapInUse() - before
	counted := store.decoder.kept.held.Load()
	t.Logf("heap %.1f MiB for an 8 MiB bound; counted %.1f MiB", float64(used)/(1<<20), float64(counted)/(1<<20))
	if limit := int64(bound)*5/4 + 2<<20; used > limit {
		t.Errorf("the decoder holds %.1f MiB for its 8 MiB bound (it counts %.1f MiB)",
			float64(used)/(1<<20), float64(counted)/(1<<20))
	}
	runtime.KeepAlive(store)
}

// TestDecoderAccountingUnderConcurrency: many goroutines keep and
// replace entries at once; held must stay equal to what the slots hold,
// and within the bound once they are done.
func TestDecoderAccountingUnderConcurrency(t *testing.T) {
	const bound = 1 << 20
	d := NewEntryDecoder(bound)
	encodings := make([][]byte, 400)
	for i := range encodings {
		e := &Entry{StatusCode: 200, Header: http.Header{"X-I": {strconv.Itoa(i)}},
			Body: BytesBody(bytes.Repeat([]byte{byte(i)}, 20<<10+i*97%(40<<10)))}
		b, err := MarshalEntry(e)
		if err != nil {
			t.Fatal(err)
		}
		encodings[i] = b
	}
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 400 {
				data := encodings[(g*31+j*7)%len(encodings)]
				e, err := d.Unmarshal(data)
				if err != nil {
					t.Error(err)
					return
				}
				if e.Header.Get("X-I") == "" {
					t.Error("no header")
					return
				}
			}
		}()
	}
	wg.Wait()
	var sum int64
	for i := range d.kept.slots {
		if k := d.kept.slots[i].Load(); k != nil {
			sum += k.size
		}
	}
	held := d.kept.held.Load()
	t.Logf("held %d, slots sum %d, bound %d", held, sum, bound)
	if held != sum {
		t.Errorf("held %d but the slots hold %d", held, sum)
	}
	if held > bound {
		t.Errorf("held %d over the bound %d after concurrent keeps", held, bound)
	}
}

// TestMemoryStorageBoundWithLargeCacheStatus: a MemoryStorage holds its
// bound with a 16 KiB Cache-Status.
func TestMemoryStorageBoundWithLargeCacheStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 8 MiB")
	}
	const bound = 8 << 20
	cs := cacheStatusList(16 << 10)
	body := bytes.Repeat([]byte("b"), 100)
	origin := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{
			"Cache-Control": {"max-age=3600"}, "Cache-Status": {cs + ", u" + req.URL.Path[len("/items/"):]}},
			ContentLength: int64(len(body)), Body: io.NopCloser(bytes.NewReader(body)), Request: req}, nil
	})
	before := heapInUse()
	store := NewMemoryStorage(bound)
	tr := New(WithTransport(origin), WithStorage(store), WithSynchronousWrites(true))
	defer tr.Close()
	for i := range 600 {
		for range 3 {
			req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/items/"+strconv.Itoa(i), nil)
			roundTripDrain(t, tr, req)
		}
	}
	used := heapInUse() - before
	t.Logf("heap %.1f MiB for an 8 MiB bound; Size %.1f MiB", float64(used)/(1<<20), float64(store.Size())/(1<<20))
	if limit := int64(bound)*5/4 + 2<<20; used > limit {
		t.Errorf("MemoryStorage holds %.1f MiB for its 8 MiB bound", float64(used)/(1<<20))
	}
	runtime.KeepAlive(store)
}

// TestDiskKeptBoundWithLargeCacheStatus: the 4 MiB of small files a
// DiskStorage keeps decoded hold their bound with a 14 KiB Cache-Status,
// as with the same bytes in another field.
func TestDiskKeptBoundWithLargeCacheStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 1,200 files three times")
	}
	for _, field := range []string{"X-Status", "Cache-Status"} {
		t.Run(field, func(t *testing.T) {
			cs := cacheStatusList(14 << 10)
			body := bytes.Repeat([]byte("b"), 100)
			origin := roundTripFunc(func(req *http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: http.StatusOK, Header: http.Header{
					"Cache-Control": {"max-age=3600"}, field: {cs}},
					ContentLength: int64(len(body)), Body: io.NopCloser(bytes.NewReader(body)), Request: req}, nil
			})
			store, err := NewDiskStorage(t.TempDir(), 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			tr := New(WithTransport(origin), WithStorage(store), WithSynchronousWrites(true))
			defer tr.Close()
			get := func(i int) {
				req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/items/"+strconv.Itoa(i), nil)
				roundTripDrain(t, tr, req)
			}
			const n = 1200
			for i := range n {
				get(i)
			}
			before := heapInUse()
			for i := range n {
				get(i)
				get(i)
				get(i)
			}
			used := heapInUse() - before
			counted := store.decoded.held.Load()
			t.Logf("heap +%.1f MiB for the 4 MiB kept; counted %.1f MiB", float64(used)/(1<<20), float64(counted)/(1<<20))
			if limit := int64(diskDecodedBytes)*5/4 + 1<<20; used > limit {
				t.Errorf("the disk store's kept files hold %.1f MiB for 4 MiB (counted %.1f MiB)", float64(used)/(1<<20), float64(counted)/(1<<20))
			}
			runtime.KeepAlive(store)
		})
	}
}
