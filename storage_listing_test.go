package httpcache

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func listingHarness(t *testing.T, opts ...Option) *harness {
	return newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Vary", "Accept")
		io.WriteString(w, "body of "+r.URL.Path)
	}, append([]Option{WithSynchronousWrites(true)}, opts...)...)
}

func TestEntriesInvalidatePrefixAndClear(t *testing.T) {
	stores := map[string]func() Storage{
		"memory": func() Storage { return NewMemoryStorage(0) },
		"tiered": func() Storage {
			s, err := NewTieredStorage(NewMemoryStorage(0), NewMemoryStorage(0), time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"disk": func() Storage { return must(NewDiskStorage(t.TempDir(), 0)) },
		"tiered over disk": func() Storage {
			s, err := NewTieredStorage(NewMemoryStorage(0), must(NewDiskStorage(t.TempDir(), 0)), time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
	for name, store := range stores {
		t.Run(name, func(t *testing.T) {
			h := listingHarness(t, WithStorage(store()))
			ctx := context.Background()
			h.get("/v1/a?token=s3cr3t")
			h.get("/v1/a?token=s3cr3t", "Accept", "text/html") // a second variant
			h.get("/v1/b", "Authorization", "Bearer alice")    // a partition
			h.get("/v2/c")
			all, err := h.transport.Entries(ctx, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != 3 {
				t.Fatalf("entries %+v", all)
			}
			a := all[0]
			if !strings.HasSuffix(a.URL, "/v1/a?token=REDACTED") || a.Variants != 2 || a.Size <= 0 || a.Partitioned || !a.StoredAt.Equal(epoch) {
				t.Fatalf("entry a %+v", a)
			}
			if want := epoch.Add(600 * time.Second); !a.FreshUntil.Equal(want) {
				t.Fatalf("entry a fresh until %v, want %v", a.FreshUntil, want)
			}
			if !all[1].Partitioned || strings.Contains(all[1].URL, "alice") {
				t.Fatalf("entry b %+v", all[1])
			}
			if some, _ := h.transport.Entries(ctx, "", 1); len(some) != 1 {
				t.Fatalf("limit 1 gave %d", len(some))
			}
			n, err := h.transport.InvalidatePrefix(ctx, h.origin.URL+"/v1/")
			if err != nil || n != 2 {
				t.Fatalf("InvalidatePrefix removed %d, %v", n, err)
			}
			if h.get("/v1/a?token=s3cr3t").cache.Hit || h.get("/v1/b", "Authorization", "Bearer alice").cache.Hit {
				t.Fatal("an entry under the prefix is still served")
			}
			if !h.get("/v2/c").cache.Hit {
				t.Fatal("an entry outside the prefix was removed")
			}
			if err := h.transport.Clear(ctx); err != nil {
				t.Fatal(err)
			}
			if left, _ := h.transport.Entries(ctx, "", 0); len(left) != 0 {
				t.Fatalf("after Clear: %+v", left)
			}
			if h.get("/v2/c").cache.Hit {
				t.Fatal("served after Clear")
			}
		})
	}
}

// Clear drops writes still queued behind the requests, so none lands after
// it.
func TestClearDropsQueuedWrites(t *testing.T) {
	lister, release := heldListingStore()
	h := listingHarness(t, WithStorage(lister), WithSynchronousWrites(false))
	h.get("/held")   // its write holds the writer
	h.get("/queued") // queued behind it
	cleared := make(chan error, 1)
	go func() { cleared <- h.transport.Clear(context.Background()) }()
	for h.transport.Stats().QueuedWrites != 0 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-cleared; err != nil {
		t.Fatal(err)
	}
	h.transport.waitForWrites()
	if left, _ := h.transport.Entries(context.Background(), "", 0); len(left) != 0 {
		t.Fatalf("after Clear: %+v", left)
	}
}

func TestEntriesOnAStoreThatCannotList(t *testing.T) {
	h := listingHarness(t, WithStorage(newFakeStorage()))
	if _, err := h.transport.Entries(context.Background(), "", 0); !errors.Is(err, ErrCannotList) {
		t.Fatalf("Entries: %v", err)
	}
	if err := h.transport.Clear(context.Background()); !errors.Is(err, ErrCannotList) {
		t.Fatalf("Clear: %v", err)
	}
	back := newFakeStorage()
	tiered, _ := NewTieredStorage(NewMemoryStorage(0), back, time.Minute)
	h = listingHarness(t, WithStorage(tiered))
	if _, err := h.transport.Entries(context.Background(), "", 0); !errors.Is(err, ErrCannotList) {
		t.Fatalf("tiered over a store that cannot list: %v", err)
	}
	var zero Transport
	if _, err := zero.Entries(context.Background(), "", 0); err == nil {
		t.Fatal("a zero Transport listed")
	}
}

// FreshUntil follows the rules, as serving does.
func TestEntriesFreshUntilFollowsRules(t *testing.T) {
	h := listingHarness(t, WithRules(Rule{Pattern: "*/ruled/*", TTL: time.Hour, Override: true}))
	h.get("/ruled/a")
	h.get("/plain")
	all, err := h.transport.Entries(context.Background(), "", 0)
	if err != nil || len(all) != 2 {
		t.Fatalf("entries %+v, %v", all, err)
	}
	if got, want := all[0].FreshUntil, epoch.Add(600*time.Second); !strings.HasSuffix(all[0].URL, "/plain") || !got.Equal(want) {
		t.Fatalf("plain %+v, want fresh until %v", all[0], want)
	}
	if got, want := all[1].FreshUntil, epoch.Add(time.Hour); !got.Equal(want) {
		t.Fatalf("ruled %+v, want fresh until %v", all[1], want)
	}
}

// heldListingStore is a store that lists (over a MemoryStorage) and whose
// writes wait until release is closed: writes queue behind the first.
func heldListingStore() (Storage, chan struct{}) {
	store := newFakeStorage()
	release := make(chan struct{})
	store.set = func(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
		<-release
		return store.memory.Set(ctx, key, e, ttl)
	}
	return struct {
		*fakeStorage
		KeyLister
	}{store, store.memory}, release
}

// downListingStore is a fakeStorage that lists (KeyLister) and, once down
// is set, fails every call, as a shared tier in an outage does.
type downListingStore struct {
	*fakeStorage
	down atomic.Bool
}

var errTierDown = errors.New("shared tier down")

func newDownListingStore() *downListingStore {
	s := &downListingStore{fakeStorage: newFakeStorage()}
	fail := func() error {
		if s.down.Load() {
			return errTierDown
		}
		return nil
	}
	s.get = func(ctx context.Context, key string) ([]*Entry, error) {
		if err := fail(); err != nil {
			return nil, err
		}
		return s.memory.Get(ctx, key)
	}
	s.set = func(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
		if err := fail(); err != nil {
			return err
		}
		return s.memory.Set(ctx, key, e, ttl)
	}
	s.delete = func(ctx context.Context, key string) error {
		if err := fail(); err != nil {
			return err
		}
		return s.memory.Delete(ctx, key)
	}
	s.deleteURL = func(ctx context.Context, url string) error {
		if err := fail(); err != nil {
			return err
		}
		return s.memory.DeleteURL(ctx, url)
	}
	return s
}

func (s *downListingStore) Keys(ctx context.Context, prefix string, fn func(key string) bool) error {
	if s.down.Load() {
		return errTierDown
	}
	return s.memory.Keys(ctx, prefix, fn)
}

func (s *downListingStore) Peek(ctx context.Context, key string) ([]*Entry, error) {
	if s.down.Load() {
		return nil, errTierDown
	}
	return s.memory.Peek(ctx, key)
}

// TestInvalidatePrefixDuringAnOutage: InvalidatePrefix and Clear, while
// the shared tier cannot list, still remove what the memory tier holds and
// report the error: this process stops serving what it was asked to
// remove (found by a probe: they returned at the listing's error and the
// memory tier went on serving every entry).
func TestInvalidatePrefixDuringAnOutage(t *testing.T) {
	for _, clear := range []bool{false, true} {
		t.Run(map[bool]string{false: "InvalidatePrefix", true: "Clear"}[clear], func(t *testing.T) {
			back := newDownListingStore()
			tiered := must(NewTieredStorage(NewMemoryStorage(0), back, time.Hour))
			h := listingHarness(t, WithStorage(tiered))
			h.get("/doc/a")
			h.get("/doc/b", "Authorization", "Bearer alice")
			if !h.get("/doc/a").cache.Hit {
				t.Fatal("not stored")
			}
			back.down.Store(true)
			var err error
			if clear {
				err = h.transport.Clear(context.Background())
			} else {
				_, err = h.transport.InvalidatePrefix(context.Background(), h.origin.URL+"/doc/")
			}
			if !errors.Is(err, errTierDown) {
				t.Fatalf("the listing's error is not reported: %v", err)
			}
			if h.get("/doc/a").cache.Hit || h.get("/doc/b", "Authorization", "Bearer alice").cache.Hit {
				t.Fatal("an entry this process was asked to remove is still served from its memory tier")
			}
		})
	}
}
