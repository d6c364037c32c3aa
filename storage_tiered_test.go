package httpcache_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/storagetest"
)

func newTiered(t testing.TB, back httpcache.Storage, trustFor time.Duration) *httpcache.TieredStorage {
	t.Helper()
	s, err := httpcache.NewTieredStorage(httpcache.NewMemoryStorage(0), back, trustFor)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTieredStorageAcceptance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, maxBytes int64) httpcache.Storage {
		s, err := httpcache.NewTieredStorage(httpcache.NewMemoryStorage(maxBytes), httpcache.NewMemoryStorage(maxBytes), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestTieredStorageReadsMemoryFirst(t *testing.T) {
	ctx := context.Background()
	back := httpcache.NewFakeStorage() // counts the calls that reach the shared tier
	back.Memory().Set(ctx, "k", storagetest.NewEntry("", "from-back", 10), time.Hour)
	s := newTiered(t, back, time.Hour)
	for range 3 {
		got, err := s.Get(ctx, "k")
		if err != nil || len(got) != 1 {
			t.Fatalf("Get: %d, %v", len(got), err)
		}
		storagetest.CheckEntry(t, got[0], storagetest.NewEntry("", "from-back", 10))
	}
	if n, _, _ := back.Calls(); n != 1 {
		t.Fatalf("the shared tier was read %d times for 3 gets, want 1", n)
	}
	s.Delete(ctx, "k")
	if got, _ := s.Get(ctx, "k"); len(got) != 0 {
		t.Fatal("Delete left the key in a tier")
	}
}

// TestTieredStorageTrustsMemoryForABoundedTime: an entry replaced in the
// shared tier by another instance is served from memory for at most
// trustFor.
func TestTieredStorageTrustsMemoryForABoundedTime(t *testing.T) {
	ctx := context.Background()
	back := httpcache.NewMemoryStorage(0)
	s := newTiered(t, back, 50*time.Millisecond)
	s.Set(ctx, "k", storagetest.NewEntry("", "old", 10), time.Hour)
	back.Set(ctx, "k", storagetest.NewEntry("", "new", 10), time.Hour) // another instance
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := s.Get(ctx, "k")
		if len(got) == 1 && got[0].Header.Get("X-Entry") == "new" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the memory copy was still trusted after 5s, with trustFor 50ms")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTieredStorageThroughTheTransport(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "tiered")
	}))
	defer origin.Close()
	back := httpcache.NewFakeStorage() // counts the calls that reach the shared tier
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithStorage(newTiered(t, back, time.Minute)))
	defer tr.Close()
	client := &http.Client{Transport: tr}
	for i := range 3 {
		resp, err := client.Get(origin.URL + "/a")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) // read whole, so that it is stored
		resp.Body.Close()
		if st, _ := httpcache.StatusOf(resp); st.Hit != (i > 0) {
			t.Fatalf("request %d: Cache-Status %q", i, resp.Header.Get("Cache-Status"))
		}
	}
	if err := tr.Invalidate(context.Background(), origin.URL+"/a"); err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(origin.URL + "/a")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st, _ := httpcache.StatusOf(resp); st.Hit {
		t.Fatal("Invalidate left the entry in a tier")
	}
	if gets, _, deletes := back.Calls(); gets != 2 || deletes != 1 {
		t.Fatalf("shared tier: %d gets (want 2: the first miss and the one after Invalidate), %d deletes", gets, deletes)
	}
}

func TestNewTieredStorageRejectsBadArguments(t *testing.T) {
	memory := httpcache.NewMemoryStorage(0)
	for _, tt := range []struct {
		front    *httpcache.MemoryStorage
		back     httpcache.Storage
		trustFor time.Duration
		want     string
	}{
		{front: nil, back: memory, trustFor: time.Second, want: "front is nil"},
		{front: memory, back: nil, trustFor: time.Second, want: "back is nil"},
		{front: memory, back: memory, trustFor: 0, want: "trustFor 0s is not a positive duration"},
	} {
		if _, err := httpcache.NewTieredStorage(tt.front, tt.back, tt.trustFor); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error = %v, want %q", err, tt.want)
		}
	}
}

// heldStore is a Storage whose next Get, once armed, returns what it read
// only when released, and whose next Delete or DeleteURL, once armed,
// waits to be released before it deletes: a shared tier's round trip in
// flight.
type heldStore struct {
	*httpcache.MemoryStorage
	holdGet, holdDelete chan chan struct{} // buffered 1: one arming each
}

func newHeldStore() *heldStore {
	return &heldStore{MemoryStorage: httpcache.NewMemoryStorage(0),
		holdGet: make(chan chan struct{}, 1), holdDelete: make(chan chan struct{}, 1)}
}

func (s *heldStore) Get(ctx context.Context, key string) ([]*httpcache.Entry, error) {
	entries, err := s.MemoryStorage.Get(ctx, key)
	select {
	case release := <-s.holdGet:
		<-release
	default:
	}
	return entries, err
}

func (s *heldStore) DeleteURL(ctx context.Context, url string) error {
	select {
	case release := <-s.holdDelete:
		<-release
	default:
	}
	return s.MemoryStorage.DeleteURL(ctx, url)
}

// armed arms hold and returns the release of the call it will hold.
func armed(hold chan chan struct{}) (release chan struct{}) {
	release = make(chan struct{})
	hold <- release
	return release
}

// waitTaken waits until the armed call has taken its release.
func waitTaken(t *testing.T, hold chan chan struct{}) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(hold) > 0; {
		if time.Now().After(deadline) {
			t.Fatal("the held call never came")
		}
		runtime.Gosched()
	}
}

// TestTieredStorageKeepsNoReadAnInvalidationOvertook: a Get that read the
// shared tier before this instance deleted or replaced the URL, or while it
// deleted it, keeps nothing of what it read in memory: kept there, the
// invalidated entry came back as a hit for trustFor after the unsafe
// request had returned (found by an operator probe).
func TestTieredStorageKeepsNoReadAnInvalidationOvertook(t *testing.T) {
	ctx := context.Background()
	const url = "https://api.example/item"
	key := url
	entry := func(body string) *httpcache.Entry {
		return &httpcache.Entry{StatusCode: http.StatusOK, Header: http.Header{"Cache-Control": {"max-age=60"}},
			RequestTime: time.Now(), ResponseTime: time.Now(), Body: httpcache.BytesBody(body)}
	}
	bodyOf := func(entries []*httpcache.Entry) string {
		if len(entries) == 0 {
			return "(none)"
		}
		r, err := entries[0].Body.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		b, _ := io.ReadAll(r)
		return string(b)
	}
	getAsync := func(s *httpcache.TieredStorage) chan string {
		got := make(chan string, 1)
		go func() {
			entries, err := s.Get(ctx, key)
			if err != nil {
				t.Error(err)
			}
			got <- bodyOf(entries)
		}()
		return got
	}
	t.Run("read before the delete", func(t *testing.T) {
		back := newHeldStore()
		s := newTiered(t, back, time.Hour)
		back.MemoryStorage.Set(ctx, key, entry("v1"), time.Hour) // in the shared tier only
		release := armed(back.holdGet)
		got := getAsync(s)
		waitTaken(t, back.holdGet) // it has read v1
		if err := s.DeleteURL(ctx, url); err != nil {
			t.Fatal(err)
		}
		close(release)
		<-got // v1 or nothing: it began before the delete
		if entries, _ := s.Get(ctx, key); len(entries) != 0 {
			t.Fatalf("after the delete: %q, want nothing", bodyOf(entries))
		}
	})
	t.Run("read during the delete", func(t *testing.T) {
		back := newHeldStore()
		s := newTiered(t, back, time.Hour)
		back.MemoryStorage.Set(ctx, key, entry("v1"), time.Hour)
		release := armed(back.holdDelete)
		deleted := make(chan error, 1)
		go func() { deleted <- s.DeleteURL(ctx, url) }()
		waitTaken(t, back.holdDelete) // memory deleted, the shared tier not yet
		if got := bodyOf(must(s.Get(ctx, key))); got != "v1" {
			t.Fatalf("during the delete: %q, want v1, still in the shared tier", got)
		}
		close(release)
		if err := <-deleted; err != nil {
			t.Fatal(err)
		}
		if entries, _ := s.Get(ctx, key); len(entries) != 0 {
			t.Fatalf("after the delete: %q, want nothing", bodyOf(entries))
		}
	})
	t.Run("read before a write to memory", func(t *testing.T) {
		back := newHeldStore()
		s := newTiered(t, back, time.Hour)
		back.MemoryStorage.Set(ctx, key, entry("v1"), time.Hour)
		memory, _ := s.MemoryTier()
		release := armed(back.holdGet)
		got := getAsync(s)
		waitTaken(t, back.holdGet)
		memory.Set(ctx, key, entry("v2"), time.Hour) // the Transport's write of a newer response
		close(release)
		<-got
		if got := bodyOf(must(s.Get(ctx, key))); got != "v2" {
			t.Fatalf("after the write: %q, want v2", got)
		}
	})
}
