package httpcache

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// declaringWrapper wraps a MemoryStorage, counts its calls, and declares
// the optional interfaces the MemoryStorage implements, as the
// storage_traits.go doc asks of a wrapper: it behaves as what it wraps.
type declaringWrapper struct {
	inner          *MemoryStorage
	gets, sets     atomic.Int64
	storageTimeout atomic.Bool
}

// note records a call that has the storage timeout of the test's
// Transport (an hour: a shared request's own, shorter deadline is not it).
func (w *declaringWrapper) note(ctx context.Context) {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) > 45*time.Minute {
		w.storageTimeout.Store(true)
	}
}

func (w *declaringWrapper) Get(ctx context.Context, key string) ([]*Entry, error) {
	w.note(ctx)
	w.gets.Add(1)
	return w.inner.Get(ctx, key)
}

func (w *declaringWrapper) GetKeyBytes(ctx context.Context, key []byte) ([]*Entry, error) {
	w.note(ctx)
	w.gets.Add(1)
	return w.inner.GetKeyBytes(ctx, key)
}

func (w *declaringWrapper) Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
	w.note(ctx)
	w.sets.Add(1)
	return w.inner.Set(ctx, key, e, ttl)
}

func (w *declaringWrapper) Delete(ctx context.Context, key string) error {
	w.note(ctx)
	return w.inner.Delete(ctx, key)
}

func (w *declaringWrapper) DeleteURL(ctx context.Context, url string) error {
	w.note(ctx)
	return w.inner.DeleteURL(ctx, url)
}

func (w *declaringWrapper) Local() bool                          { return w.inner.Local() }
func (w *declaringWrapper) MemoryTier() (memory, behind Storage) { return w, nil }

// embeddingWrapper embeds a MemoryStorage and overrides Get and Set, as a
// quick counting wrapper would. It gets the MemoryStorage's optional
// methods by promotion, which must not let the Transport bypass it.
type embeddingWrapper struct {
	*MemoryStorage
	gets, sets atomic.Int64
}

func (w *embeddingWrapper) Get(ctx context.Context, key string) ([]*Entry, error) {
	w.gets.Add(1)
	return w.MemoryStorage.Get(ctx, key)
}

func (w *embeddingWrapper) Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
	w.sets.Add(1)
	return w.MemoryStorage.Set(ctx, key, e, ttl)
}

func cacheableHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "max-age=60")
	fmt.Fprint(w, "ok")
}

// TestWrapperDeclaringTraitsBehavesAsMemory: a wrapper that declares the
// optional interfaces of the MemoryStorage it wraps is used as one: written
// at once (no write-behind), its calls without a timeout, and every call
// through the wrapper.
func TestWrapperDeclaringTraitsBehavesAsMemory(t *testing.T) {
	store := &declaringWrapper{inner: NewMemoryStorage(0)}
	h := newHarness(t, cacheableHandler, WithStorage(store), WithStorageTimeout(time.Hour))
	if h.transport.writes != nil {
		t.Fatal("the Transport writes behind a store wholly in memory")
	}
	if got := h.get("/a"); !got.cache.Stored {
		t.Fatalf("not stored: %+v", got.cache)
	}
	// Written at once: counted before the caller's read returned, and the
	// next request is a hit without waiting for anything.
	if store.sets.Load() != 1 {
		t.Fatalf("%d sets right after the response was read, want 1", store.sets.Load())
	}
	if got := h.get("/a"); !got.cache.Hit {
		t.Fatalf("second request: %+v", got.cache)
	}
	if store.gets.Load() != 2 {
		t.Fatalf("%d gets through the wrapper, want 2", store.gets.Load())
	}
	if store.storageTimeout.Load() {
		t.Fatal("a local store's call had a timeout")
	}
	h.wantOriginRequests(1)
}

// TestEmbeddingWrapperIsNeverBypassed: the MemoryTier a wrapper gets by
// embedding a MemoryStorage names the embedded store; the Transport ignores
// it, and every read and write goes through the wrapper's own methods.
func TestEmbeddingWrapperIsNeverBypassed(t *testing.T) {
	store := &embeddingWrapper{MemoryStorage: NewMemoryStorage(0)}
	h := newHarness(t, cacheableHandler, WithStorage(store))
	h.get("/a")
	h.transport.waitForWrites()
	if got := h.get("/a"); !got.cache.Hit {
		t.Fatalf("second request: %+v", got.cache)
	}
	if store.gets.Load() != 2 || store.sets.Load() != 1 {
		t.Fatalf("the wrapper saw %d gets and %d sets, want 2 and 1", store.gets.Load(), store.sets.Load())
	}
}

// TestTieredStorageTraits: a TieredStorage names its memory tier, whose
// writes are trusted for at most trustFor, and its shared tier behind it.
func TestTieredStorageTraits(t *testing.T) {
	front, back := NewMemoryStorage(0), newFakeStorage()
	tiered, err := NewTieredStorage(front, back, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a := newStorageAccess(tiered)
	if a.memory.Storage == nil || a.behind.Storage != Storage(tieredBehind{tiered}) || a.lookup == nil {
		t.Fatalf("tiered access: memory %T, behind %T, lookup %T", a.memory.Storage, a.behind.Storage, a.lookup)
	}
	if !a.memory.local || a.behind.local || a.all.local {
		t.Fatal("only the memory tier of a tiered store over a remote one is local")
	}
	ctx := context.Background()
	a.memory.Set(ctx, "k", storedAt(header()), time.Hour)
	if entries, _ := front.Get(ctx, "k"); len(entries) != 1 {
		t.Fatal("a write to the memory tier did not reach the front store")
	}
	if _, sets, _ := back.Calls(); sets != 0 {
		t.Fatal("a write to the memory tier reached the shared tier")
	}
}

// uncomparableStore is a store held by value whose type cannot be compared
// with ==, which declares itself wholly in memory.
type uncomparableStore struct {
	_ []string // makes the type uncomparable
	*MemoryStorage
}

func (s uncomparableStore) MemoryTier() (memory, behind Storage) { return s, nil }

// TestStorageAccessOfUncomparableStore: comparing a store's memory tier with
// the store does not panic when the type is not comparable; such a store
// is used as a store of its own.
func TestStorageAccessOfUncomparableStore(t *testing.T) {
	a := newStorageAccess(uncomparableStore{MemoryStorage: NewMemoryStorage(0)})
	if a.memory.Storage != nil || a.behind.Storage == nil {
		t.Fatal("an uncomparable store was taken for its own memory tier")
	}
}

func TestStorageAccessOfBuiltInStores(t *testing.T) {
	disk, err := NewDiskStorage(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	memory := NewMemoryStorage(0)
	tests := []struct {
		name                   string
		store                  Storage
		wantMemory, wantBehind bool
		wantLocal              bool
	}{
		{name: "memory", store: memory, wantMemory: true, wantLocal: true},
		{name: "disk", store: disk, wantBehind: true, wantLocal: true},
		{name: "fake (a store of its own)", store: newFakeStorage(), wantBehind: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newStorageAccess(tt.store)
			if got := a.memory.Storage != nil; got != tt.wantMemory {
				t.Errorf("memory tier: %v, want %v", got, tt.wantMemory)
			}
			if got := a.behind.Storage != nil; got != tt.wantBehind {
				t.Errorf("written behind: %v, want %v", got, tt.wantBehind)
			}
			if a.all.local != tt.wantLocal {
				t.Errorf("local: %v, want %v", a.all.local, tt.wantLocal)
			}
		})
	}
}

// vetoingTiered embeds a TieredStorage and refuses every Set: a filter. The
// MemoryTier it gets by promotion names the embedded store's tiers, which
// the Transport must not use in its place.
type vetoingTiered struct {
	*TieredStorage
	sets atomic.Int64
}

func (s *vetoingTiered) Set(context.Context, string, *Entry, time.Duration) error {
	s.sets.Add(1)
	return nil
}

func TestEmbeddedTieredStorageIsNeverBypassed(t *testing.T) {
	tiered, err := NewTieredStorage(NewMemoryStorage(0), NewMemoryStorage(0), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	store := &vetoingTiered{TieredStorage: tiered}
	h := newHarness(t, cacheableHandler, WithStorage(store))
	h.get("/a")
	h.transport.waitForWrites()
	if got := h.get("/a"); got.cache.Hit {
		t.Fatal("a hit, though the store refused every write: its tiers were written behind its back")
	}
	if store.sets.Load() == 0 {
		t.Fatal("the store's own Set was never called")
	}
}

// gatedLocalStore is a local store (no timeouts) written behind the
// request, whose Set waits for release and records its context's error.
type gatedLocalStore struct {
	*fakeStorage
	release chan struct{}
	setErr  chan error
}

func (s *gatedLocalStore) Local() bool { return true }

func (s *gatedLocalStore) Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
	<-s.release
	s.setErr <- ctx.Err()
	return s.fakeStorage.Set(ctx, key, e, ttl)
}

// TestWritesBehindOutliveTheCaller: a write behind the request runs on a
// context that does not end with the caller's, local store or not.
func TestWritesBehindOutliveTheCaller(t *testing.T) {
	store := &gatedLocalStore{fakeStorage: newFakeStorage(), release: make(chan struct{}), setErr: make(chan error, 1)}
	h := newHarness(t, cacheableHandler, WithStorage(store))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.origin.URL+"/a", nil)
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	cancel() // the caller has gone before the write runs
	close(store.release)
	if err := <-store.setErr; err != nil {
		t.Fatalf("the write behind the request ran on an ended context: %v", err)
	}
}

// TestOnlyIfCachedWithUnreadableBody: an only-if-cached request whose
// stored body cannot be read is answered 504, never from the origin
// (RFC 9111 §5.2.1.7).
func TestOnlyIfCachedWithUnreadableBody(t *testing.T) {
	store := NewMemoryStorage(0)
	h := newHarness(t, cacheableHandler, WithStorage(store))
	store.Set(context.Background(), cacheKey(mustParseURL(t, h.origin.URL+"/u")), &Entry{StatusCode: 200,
		Header:      header("Cache-Control", "max-age=60", "Date", httpDate(epoch)),
		RequestTime: epoch, ResponseTime: epoch, Body: corruptBody{}}, 0)
	if got := h.get("/u", "Cache-Control", "only-if-cached"); got.status != http.StatusGatewayTimeout {
		t.Fatalf("status %d, want 504", got.status)
	}
	h.wantOriginRequests(0)
}
