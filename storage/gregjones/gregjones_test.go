package gregjones_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/gregjones"
	"github.com/c650553b/httpcache/storage/storagetest"
	ghttpcache "github.com/gregjones/httpcache"
	"github.com/gregjones/httpcache/diskcache"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestAcceptanceMemoryCache(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, maxBytes int64) httpcache.Storage {
		if maxBytes != 0 {
			return nil // the backend has no byte bound
		}
		return gregjones.New(ghttpcache.NewMemoryCache())
	})
}

func TestAcceptanceDiskCache(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, maxBytes int64) httpcache.Storage {
		if maxBytes != 0 {
			return nil
		}
		return gregjones.New(diskcache.New(t.TempDir()))
	})
}

func TestDamagedValuesAreMisses(t *testing.T) {
	backend := ghttpcache.NewMemoryCache()
	s := gregjones.New(backend)
	ctx := context.Background()
	s.Set(ctx, "k", storagetest.NewEntry("", "x", 100), time.Hour)
	for _, damaged := range [][]byte{nil, []byte("HCG1"), []byte("HCG1\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff"), []byte("HTTP/1.1 200 OK\r\n\r\n")} {
		backend.Set("httpcache.v1:k", damaged)
		got, err := s.Get(ctx, "k")
		if err != nil || len(got) != 0 {
			t.Fatalf("damaged value %q: %d entries, %v", damaged, len(got), err)
		}
	}
}

// recordingCache is a backend that remembers every key written to it.
type recordingCache struct {
	ghttpcache.Cache
	mu   sync.Mutex
	keys map[string]bool
}

func newRecordingCache() *recordingCache {
	return &recordingCache{Cache: ghttpcache.NewMemoryCache(), keys: map[string]bool{}}
}

func (c *recordingCache) Set(key string, value []byte) {
	c.mu.Lock()
	c.keys[key] = true
	c.mu.Unlock()
	c.Cache.Set(key, value)
}

// stored returns the keys written and still present.
func (c *recordingCache) stored() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var keys []string
	for key := range c.keys {
		if _, ok := c.Cache.Get(key); ok {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	return keys
}

func get(t *testing.T, rt http.RoundTripper, url, authorization string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// TestSharesABackendWithGregjones runs this cache and gregjones/httpcache on
// one backend: neither reads the other's values, the URL indexes included,
// and an invalidation by this cache (DeleteURL) removes its own entries
// only.
func TestSharesABackendWithGregjones(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "body", r.Header.Get("Authorization"))
	}))
	defer origin.Close()
	backend := newRecordingCache()
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	old := &ghttpcache.Transport{Cache: backend, Transport: upstream, MarkCachedResponses: true}
	ours := httpcache.New(httpcache.WithStorage(gregjones.New(backend)), httpcache.WithTransport(upstream))
	defer ours.Close()
	users := []string{"", "Bearer alice", "Bearer bob"}
	for i := range 2 {
		if _, body := get(t, old, origin.URL, ""); body != "body" {
			t.Fatalf("round %d: gregjones/httpcache's body %q", i, body)
		}
		for _, user := range users {
			if _, body := get(t, ours, origin.URL, user); body != "body"+user {
				t.Fatalf("round %d, user %q: body %q", i, user, body)
			}
		}
		ours.Close() // the entries are written before the next round
	}
	for _, user := range users {
		resp, body := get(t, ours, origin.URL, user)
		if st, _ := httpcache.StatusOf(resp); !st.Hit || body != "body"+user {
			t.Fatalf("user %q: not a hit from the shared backend: %q, body %q", user, resp.Header.Get("Cache-Status"), body)
		}
	}

	// Every value this cache wrote is under one of its prefixes, and none
	// reads as a response to gregjones/httpcache, even for a request whose
	// URL is the value's key.
	index := false
	for _, key := range backend.stored() {
		if key == origin.URL+"/" || key == origin.URL {
			continue // gregjones/httpcache's own
		}
		if !strings.HasPrefix(key, gregjones.EntryKey("")) && !strings.HasPrefix(key, gregjones.IndexKey("")) {
			t.Fatalf("unexpected key %q", key)
		}
		index = index || strings.HasPrefix(key, gregjones.IndexKey(""))
		value, _ := backend.Get(key)
		if _, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(value)), nil); err == nil {
			t.Fatalf("the value under %q reads as an HTTP response", key)
		}
		if u, err := url.Parse(key); err == nil {
			req := &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}}
			if resp, err := ghttpcache.CachedResponse(backend, req); err == nil && resp != nil {
				t.Fatalf("gregjones/httpcache reads a response from %q", key)
			}
		}
	}
	if !index {
		t.Fatal("no URL index was written")
	}

	// An unsafe request through this cache invalidates its entries in every
	// partition; gregjones/httpcache (which keys by URL only) still serves
	// its own.
	req, _ := http.NewRequest(http.MethodPost, origin.URL, nil)
	resp, err := ours.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp, body := get(t, old, origin.URL, ""); resp.Header.Get(ghttpcache.XFromCache) != "1" || body != "body" {
		t.Fatalf("gregjones/httpcache answered %q, from cache %q", body, resp.Header.Get(ghttpcache.XFromCache))
	}
	for _, user := range users {
		resp, body := get(t, ours, origin.URL, user)
		if st, _ := httpcache.StatusOf(resp); st.Hit || body != "body"+user {
			t.Fatalf("user %q: a hit after the invalidation: %q, body %q", user, resp.Header.Get("Cache-Status"), body)
		}
	}
}

// TestDeleteURLRemovesEveryPartition: DeleteURL removes the URL's key and
// every partition of it, even one stored through another Storage on the
// backend, and nothing else: not another URL's, not gregjones/httpcache's
// values. Partitions gone before (deleted, expired) do not trouble it.
func TestDeleteURLRemovesEveryPartition(t *testing.T) {
	backend := ghttpcache.NewMemoryCache()
	s1, s2 := gregjones.New(backend), gregjones.New(backend)
	ctx := context.Background()
	const target = "https://example.com/me"
	var doomed []string
	for i := range 50 {
		key := storagetest.PartitionKey(target, fmt.Sprintf("%064x", i))
		s := s1
		if i%2 == 1 {
			s = s2
		}
		s.Set(ctx, key, storagetest.NewEntry("", "u"+strconv.Itoa(i), 10), time.Hour)
		doomed = append(doomed, key)
	}
	s1.Set(ctx, target, storagetest.NewEntry("", "plain", 10), 0)
	s1.Set(ctx, storagetest.PartitionKey(target, "short"), storagetest.NewEntry("", "short", 10), time.Millisecond)
	s1.Set(ctx, storagetest.PartitionKey(target, "deleted"), storagetest.NewEntry("", "deleted", 10), time.Hour)
	s1.Delete(ctx, storagetest.PartitionKey(target, "deleted"))
	doomed = append(doomed, target)
	kept := []string{"https://example.com/me2", "https://example.com/m", "https://example.com/me?",
		"https://example.com/me/", storagetest.PartitionKey("https://example.com/me2", fmt.Sprintf("%064x", 1)),
		storagetest.PartitionKey("https://example.com/m", "e")}
	for i, key := range kept {
		s1.Set(ctx, key, storagetest.NewEntry("", "k"+strconv.Itoa(i), 10), time.Hour)
	}
	backend.Set(target, []byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nold"))
	// 50, the short-lived one and the deleted one: Delete leaves it listed.
	if partitions, ok := s2.IndexPartitions(target); !ok || len(partitions) != 52 {
		t.Fatalf("the index lists %d partitions (intact %v), want 52", len(partitions), ok)
	}
	time.Sleep(5 * time.Millisecond)

	if err := s2.DeleteURL(ctx, target); err != nil {
		t.Fatal(err)
	}
	for _, key := range doomed {
		if got, _ := s1.Get(ctx, key); len(got) != 0 {
			t.Fatalf("DeleteURL left %q", key)
		}
	}
	if _, ok := backend.Get(gregjones.IndexKey(target)); ok {
		t.Fatal("DeleteURL left the index")
	}
	for i, key := range kept {
		got, _ := s1.Get(ctx, key)
		if len(got) != 1 {
			t.Fatalf("DeleteURL removed %q", key)
		}
		storagetest.CheckEntry(t, got[0], storagetest.NewEntry("", "k"+strconv.Itoa(i), 10))
	}
	if v, ok := backend.Get(target); !ok || !bytes.HasSuffix(v, []byte("old")) {
		t.Fatal("DeleteURL removed gregjones/httpcache's value")
	}
	if err := s2.DeleteURL(ctx, target); err != nil {
		t.Fatalf("DeleteURL again: %v", err)
	}
}

// TestIndexIsBounded: expired partitions leave the index when it is
// rewritten; a full index checks which partitions are still stored, at
// most once an interval, and refuses a further one while it stays full.
func TestIndexIsBounded(t *testing.T) {
	defer gregjones.SetIndexLimits(4, time.Hour)()
	backend := ghttpcache.NewMemoryCache()
	s := gregjones.New(backend)
	ctx := context.Background()
	const target = "https://example.com/me"
	key := func(i int) string { return storagetest.PartitionKey(target, fmt.Sprintf("%064x", i)) }
	count := func() int {
		t.Helper()
		partitions, ok := s.IndexPartitions(target)
		if !ok {
			t.Fatal("the index does not decode")
		}
		return len(partitions)
	}
	stored := func(i int) bool {
		got, _ := s.Get(ctx, key(i))
		return len(got) == 1
	}

	for i := range 3 {
		s.Set(ctx, key(i), storagetest.NewEntry("", "short", 10), time.Millisecond)
	}
	time.Sleep(1100 * time.Millisecond) // the index keeps whole seconds
	s.Set(ctx, key(10), storagetest.NewEntry("", "u10", 10), time.Hour)
	if n := count(); n != 1 {
		t.Fatalf("the index lists %d partitions after the others expired, want 1", n)
	}
	s.Set(ctx, key(10), storagetest.NewEntry("", "u10", 10), time.Hour) // listed once
	for i := 11; i < 14; i++ {
		s.Set(ctx, key(i), storagetest.NewEntry("", "u"+strconv.Itoa(i), 10), 0)
	}
	if n := count(); n != 4 {
		t.Fatalf("the index lists %d partitions, want 4", n)
	}

	// Full: one partition is gone from the backend (evicted), so the check
	// makes room.
	backend.Delete(gregjones.EntryKey(key(11)))
	s.Set(ctx, key(14), storagetest.NewEntry("", "u14", 10), time.Hour)
	if !stored(14) || count() != 4 {
		t.Fatalf("after the check: stored %v, %d listed", stored(14), count())
	}
	// Full again, and checked within the interval: refused, and a value
	// stored under the key before (unlisted) goes too.
	backend.Delete(gregjones.EntryKey(key(12)))
	backend.Set(gregjones.EntryKey(key(15)), mustValue(t, storagetest.NewEntry("", "unlisted", 10)))
	s.Set(ctx, key(15), storagetest.NewEntry("", "u15", 10), time.Hour)
	if stored(15) || count() != 4 {
		t.Fatalf("a full index took a partition: stored %v, %d listed", stored(15), count())
	}
	// Listed partitions are still written.
	s.Set(ctx, key(13), storagetest.NewEntry("", "u13b", 10), time.Hour)
	if !stored(13) {
		t.Fatal("a listed partition was refused")
	}
	if err := s.DeleteURL(ctx, target); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{10, 13, 14} {
		if stored(i) {
			t.Fatalf("DeleteURL left partition %d", i)
		}
	}
}

// mustValue returns the backend value a Storage writes for one entry.
func mustValue(t *testing.T, e *httpcache.Entry) []byte {
	t.Helper()
	backend := ghttpcache.NewMemoryCache()
	gregjones.New(backend).Set(context.Background(), "k", e, 0)
	v, ok := backend.Get(gregjones.EntryKey("k"))
	if !ok {
		t.Fatal("no value")
	}
	return v
}

// TestDamagedIndex: an index that does not decode lists nothing; DeleteURL
// still removes the URL's own key, and the next Set rewrites the index.
func TestDamagedIndex(t *testing.T) {
	backend := ghttpcache.NewMemoryCache()
	s := gregjones.New(backend)
	ctx := context.Background()
	const target = "https://example.com/me"
	alice := storagetest.PartitionKey(target, fmt.Sprintf("%064x", 1))
	s.Set(ctx, alice, storagetest.NewEntry("", "alice", 10), time.Hour)
	good, _ := backend.Get(gregjones.IndexKey(target))
	for _, damaged := range [][]byte{nil, []byte("HCGI1"), append(bytes.Clone(good[:len(good)-1]), good[len(good)-1]^1),
		[]byte("HCGI1\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x00\x00\x00\x00")} {
		backend.Set(gregjones.IndexKey(target), damaged)
		if _, ok := s.IndexPartitions(target); ok {
			t.Fatalf("damaged index %q decodes", damaged)
		}
		s.Set(ctx, target, storagetest.NewEntry("", "plain", 10), time.Hour)
		if err := s.DeleteURL(ctx, target); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(ctx, target); len(got) != 0 {
			t.Fatal("DeleteURL left the URL's key")
		}
	}
	backend.Set(gregjones.IndexKey(target), []byte("junk"))
	s.Set(ctx, alice, storagetest.NewEntry("", "alice", 10), time.Hour)
	if partitions, ok := s.IndexPartitions(target); !ok || len(partitions) != 1 {
		t.Fatalf("the index was not rewritten: %q %v", partitions, ok)
	}
	s.DeleteURL(ctx, target)
	if got, _ := s.Get(ctx, alice); len(got) != 0 {
		t.Fatal("DeleteURL left alice's entry")
	}
}

// TestConcurrentPartitions: partitions stored at once through one Storage
// are all listed, so DeleteURL removes them all.
func TestConcurrentPartitions(t *testing.T) {
	s := gregjones.New(ghttpcache.NewMemoryCache())
	ctx := context.Background()
	const target = "https://example.com/me"
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 25 {
				key := storagetest.PartitionKey(target, fmt.Sprintf("%064x", w*100+i))
				s.Set(ctx, key, storagetest.NewEntry("", "u", 10), time.Hour)
				if i%5 == 0 {
					s.DeleteURL(ctx, "https://example.com/other")
				}
			}
		})
	}
	wg.Wait()
	if partitions, _ := s.IndexPartitions(target); len(partitions) != 200 {
		t.Fatalf("the index lists %d partitions, want 200", len(partitions))
	}
	s.DeleteURL(ctx, target)
	for w := range 8 {
		for i := range 25 {
			if got, _ := s.Get(ctx, storagetest.PartitionKey(target, fmt.Sprintf("%064x", w*100+i))); len(got) != 0 {
				t.Fatal("DeleteURL left a partition")
			}
		}
	}
}

func FuzzDecodeValue(f *testing.F) {
	backend := ghttpcache.NewMemoryCache()
	s := gregjones.New(backend)
	s.Set(context.Background(), "k", storagetest.NewEntry("a", "x", 10), time.Hour)
	s.Set(context.Background(), "k", storagetest.NewEntry("b", "y", 10), 0)
	seed, _ := backend.Get("httpcache.v1:k")
	f.Add(seed)
	f.Add([]byte("HCG2"))
	f.Fuzz(func(t *testing.T, value []byte) {
		backend := ghttpcache.NewMemoryCache()
		backend.Set("httpcache.v1:k", value)
		entries, _ := gregjones.New(backend).Get(context.Background(), "k")
		for _, e := range entries {
			if r, err := e.Body.Open(); err == nil {
				io.Copy(io.Discard, r)
				r.Close()
			}
		}
	})
}

// TestValueMovedToAnotherKeyIsAMiss: a backend value copied to another
// key's backend name (another URL's, another partition's) is not served
// there: each value carries its key's digest.
func TestValueMovedToAnotherKeyIsAMiss(t *testing.T) {
	backend := ghttpcache.NewMemoryCache()
	store := gregjones.New(backend)
	ctx := context.Background()
	for _, to := range []string{"https://h/b", "https://h/a\x00" + strings.Repeat("0", 64)} {
		if err := store.Set(ctx, "https://h/a", storagetest.NewEntry("", "a", 10), time.Hour); err != nil {
			t.Fatal(err)
		}
		value, ok := backend.Get(gregjones.EntryKey("https://h/a"))
		if !ok {
			t.Fatal("no value written")
		}
		backend.Set(gregjones.EntryKey(to), value)
		if got, err := store.Get(ctx, to); err != nil || len(got) != 0 {
			t.Fatalf("%q: %d entries, %v; want a miss", to, len(got), err)
		}
		if got, _ := store.Get(ctx, "https://h/a"); len(got) != 1 {
			t.Fatal("the entry is not served under its own key")
		}
	}
}
