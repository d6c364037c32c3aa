package httpcache_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
