package httpcache

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

// timeBoundedStore is a store whose calls time themselves
// (TimeBoundedStorage); it records whether the Transport gave a Get a
// deadline.
type timeBoundedStore struct {
	*fakeStorage
	bounded     bool
	hadDeadline chan bool
}

func (s *timeBoundedStore) TimeBounded() bool { return s.bounded }

func (s *timeBoundedStore) Get(ctx context.Context, key string) ([]*Entry, error) {
	_, ok := ctx.Deadline()
	s.hadDeadline <- ok
	return s.fakeStorage.Get(ctx, key)
}

// A store that times its own calls gets no second timeout from the
// Transport; one that does not, gets WithStorageTimeout's.
func TestTimeBoundedStorageGetsNoTimeout(t *testing.T) {
	for _, bounded := range []bool{true, false} {
		store := &timeBoundedStore{fakeStorage: newFakeStorage(), bounded: bounded, hadDeadline: make(chan bool, 4)}
		h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, "x")
		}, WithStorage(store), WithSynchronousWrites(true))
		h.get("/a")
		if got := <-store.hadDeadline; got == bounded {
			t.Errorf("TimeBounded %v: the Get had a deadline: %v", bounded, got)
		}
	}
}

// A reader's slice from Get keeps its entries when the key is stored anew:
// a MemoryStorage replaces a key's variants slice, never writes it.
func TestMemoryStorageReadersKeepTheirVariants(t *testing.T) {
	m := NewMemoryStorage(0)
	ctx := context.Background()
	first := &Entry{StatusCode: 200, Header: http.Header{}, Body: BytesBody("first")}
	m.Set(ctx, "k", first, time.Hour)
	held, _ := m.Get(ctx, "k")
	m.Set(ctx, "k", &Entry{StatusCode: 200, Header: http.Header{}, Body: BytesBody("second")}, time.Hour)
	m.Set(ctx, "k", &Entry{Variant: "v", StatusCode: 200, Header: http.Header{}, Body: BytesBody("third")}, time.Hour)
	if len(held) != 1 || held[0] != first {
		t.Fatal("a reader's slice changed under it")
	}
	if now, _ := m.Get(ctx, "k"); len(now) != 2 {
		t.Fatalf("%d variants stored, want 2", len(now))
	}
}
