package gregjones_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/gregjones"
	"github.com/c650553b/httpcache/storage/storagetest"
)

// mapCache is a gregjones/httpcache Cache whose contents a test can dump.
type mapCache struct {
	mu     sync.Mutex
	values map[string][]byte
}

func newMapCache() *mapCache { return &mapCache{values: make(map[string][]byte)} }

func (c *mapCache) Get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.values[key]
	return v, ok
}

func (c *mapCache) Set(key string, value []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.values[key] = value
}

func (c *mapCache) Delete(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.values, key)
}

func (c *mapCache) dump() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for k, v := range c.values {
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	return b.String()
}

func newKeyring(t *testing.T, keys ...[]byte) *httpcache.Keyring {
	k, err := httpcache.NewKeyring(keys[0], keys[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestEncryptedAcceptance(t *testing.T) {
	keys := newKeyring(t, httpcache.NewKey())
	storagetest.Run(t, func(t *testing.T, maxBytes int64) httpcache.Storage {
		if maxBytes != 0 {
			return nil
		}
		return gregjones.New(newMapCache(), gregjones.WithKeyring(keys))
	})
}

// Through the Transport, with partitions, variants and tags, the backend
// holds nothing planted in clear, keys included; invalidation and purges
// still reach every partition.
func TestEncryptedBackendShowsNothingInClear(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Vary", "Accept-Language")
		w.Header().Set("X-Planted", "PLANTED-HEADER")
		w.Header().Set("Cache-Tag", "PLANTED-TAG")
		io.WriteString(w, "PLANTED-BODY for "+r.Header.Get("Authorization"))
	}))
	defer origin.Close()
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	backend := newMapCache()
	tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithSynchronousWrites(true),
		httpcache.WithStorage(gregjones.New(backend, gregjones.WithKeyring(newKeyring(t, httpcache.NewKey())))))
	defer tr.Close()
	get := func(header ...string) bool {
		req, _ := http.NewRequest(http.MethodGet, origin.URL+"/PLANTED-PATH?PLANTED-QUERY=1", nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		st, _ := httpcache.StatusOf(resp)
		return st.Hit
	}
	get()
	get("Accept-Language", "PLANTED-LANGUAGE")
	get("Authorization", "Bearer PLANTED-USER")
	dump := backend.dump()
	for _, planted := range []string{"PLANTED", "127.0.0.1", "max-age"} {
		if strings.Contains(dump, planted) {
			t.Errorf("the backend holds %q in clear", planted)
		}
	}
	if !get("Authorization", "Bearer PLANTED-USER") {
		t.Fatal("not served back")
	}
	if n, err := tr.InvalidateTag(context.Background(), "PLANTED-TAG"); err != nil || n != 2 {
		t.Fatalf("InvalidateTag removed %d, %v", n, err)
	}
	if get() || get("Authorization", "Bearer PLANTED-USER") {
		t.Fatal("served after the purge")
	}
}

// Rotation, a wrong key, and a value moved to another key's name.
func TestEncryptedBackendKeys(t *testing.T) {
	ctx := context.Background()
	backend := newMapCache()
	oldKey, newKey := httpcache.NewKey(), httpcache.NewKey()
	before := gregjones.New(backend, gregjones.WithKeyring(newKeyring(t, oldKey)))
	before.Set(ctx, "https://a.example/x\x00alice", storagetest.NewEntry("", "alice", 10), time.Hour)
	before.Set(ctx, "https://a.example/x\x00bob", storagetest.NewEntry("", "bob", 10), time.Hour)
	rotated := gregjones.New(backend, gregjones.WithKeyring(newKeyring(t, newKey, oldKey)))
	if got, _ := rotated.Get(ctx, "https://a.example/x\x00alice"); len(got) != 1 {
		t.Fatal("an entry of the previous key is not served after rotation")
	}
	if got, _ := gregjones.New(backend, gregjones.WithKeyring(newKeyring(t, httpcache.NewKey()))).Get(ctx, "https://a.example/x\x00alice"); len(got) != 0 {
		t.Fatal("served with a key that did not seal it")
	}
	// Swap every value with the next one's.
	backend.mu.Lock()
	var names []string
	for k := range backend.values {
		names = append(names, k)
	}
	first := backend.values[names[0]]
	for i := range names[:len(names)-1] {
		backend.values[names[i]] = backend.values[names[i+1]]
	}
	backend.values[names[len(names)-1]] = first
	backend.mu.Unlock()
	for _, user := range []string{"alice", "bob"} {
		if got, _ := before.Get(ctx, "https://a.example/x\x00"+user); len(got) != 0 {
			t.Fatalf("%s: a moved value was served", user)
		}
	}
	rotated.DeleteURL(ctx, "https://a.example/x") // a damaged index: no panic
}
