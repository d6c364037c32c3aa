package gregjones_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/gregjones"
	"github.com/c650553b/httpcache/storage/storagetest"
)

// hookedCache runs fn once, armed, after a Get that finds a value and
// before it returns: what another process does between a read and the
// write that follows it.
type hookedCache struct {
	*mapCache
	armed atomic.Bool
	fn    func()
}

func (c *hookedCache) Get(key string) ([]byte, bool) {
	v, ok := c.mapCache.Get(key)
	if ok && c.armed.CompareAndSwap(true, false) {
		c.fn()
	}
	return v, ok
}

// readIndex now writes back an index it found under a previous key, even
// for KeysTagged, which only reads (a purge): it writes what it read
// before it, so a key another process added to the tag's index in
// between is dropped from it, and a later purge of the tag misses an
// entry still served. Before the change a purge never wrote an index.
func TestEncReview2PurgeRewriteLosesConcurrentMember(t *testing.T) {
	ctx := context.Background()
	backend := &hookedCache{mapCache: newMapCache()}
	oldKey, newKey := httpcache.NewKey(), httpcache.NewKey()
	tagged := func(id string) *httpcache.Entry {
		e := storagetest.NewEntry("", id, 10)
		e.Tags = []string{"t"}
		return e
	}
	before := gregjones.New(backend, gregjones.WithKeyring(newKeyring(t, oldKey)))
	if err := before.Set(ctx, "https://a.example/one", tagged("one"), time.Hour); err != nil {
		t.Fatal(err)
	}
	// Two processes after the rotation, sharing the backend.
	purger := gregjones.New(backend, gregjones.WithKeyring(newKeyring(t, newKey, oldKey)))
	writer := gregjones.New(backend, gregjones.WithKeyring(newKeyring(t, newKey, oldKey)))
	var setErr error
	backend.fn = func() { setErr = writer.Set(ctx, "https://a.example/two", tagged("two"), time.Hour) }
	backend.armed.Store(true)
	var first []string
	if err := purger.KeysTagged(ctx, "t", func(k string) bool { first = append(first, k); return true }); err != nil {
		t.Fatal(err)
	}
	if setErr != nil {
		t.Fatal(setErr)
	}
	if backend.armed.Load() {
		t.Fatal("the concurrent Set did not run")
	}
	if got, _ := writer.Get(ctx, "https://a.example/two"); len(got) != 1 {
		t.Fatalf("%d entries stored under two", len(got))
	}
	var listed []string
	if err := purger.KeysTagged(ctx, "t", func(k string) bool { listed = append(listed, k); return true }); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(listed, "https://a.example/two") {
		t.Fatalf("KeysTagged(t) = %q after a concurrent Set of a key tagged t: the purge's rewrite of the index dropped it", listed)
	}
}
