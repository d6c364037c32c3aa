package httpcache

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// A TieredStorage over a store that lists (disk) answers Peek from its
// memory tier whenever that holds any variant of the key, so InvalidateTag
// (which searches such a store entry by entry, through Peek) does not see
// a tagged response that only the back tier holds: one another process
// sharing the directory stored, or a variant whose memory copy expired
// after trustFor. The purged response stays on disk and is served.
func TestReviewTieredPeekHidesTaggedEntryOfBackTier(t *testing.T) {
	t.Run("another process", func(t *testing.T) {
		dir := t.TempDir()
		tagged := false
		h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=3600")
			if tagged {
				w.Header().Set("Cache-Tag", "product-1")
			}
			fmt.Fprintf(w, "tagged %v", tagged)
		}, WithStorage(must(NewTieredStorage(NewMemoryStorage(0), must(NewDiskStorage(dir, 0)), time.Minute))),
			WithSynchronousWrites(true))
		h.get("/x") // this process: memory and disk, untagged
		// Another process on the same directory stores the new, tagged
		// response.
		other := must(NewTransport(WithStorage(must(NewDiskStorage(dir, 0))), WithSynchronousWrites(true), WithClock(h.clock.Now)))
		defer other.Close()
		client := &http.Client{Transport: other}
		get := func(cc string) CacheStatus {
			req, _ := http.NewRequest(http.MethodGet, h.origin.URL+"/x", nil)
			if cc != "" {
				req.Header.Set("Cache-Control", cc)
			}
			resp := must(client.Do(req))
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			st, _ := StatusOf(resp)
			return st
		}
		tagged = true
		if st := get("no-cache"); !st.Stored {
			t.Fatalf("the other process did not store: %+v", st)
		}
		n, err := h.transport.InvalidateTag(context.Background(), "product-1")
		if err != nil {
			t.Fatal(err)
		}
		if st := get(""); st.Hit {
			t.Fatalf("InvalidateTag removed %d keys; the tagged response is still on disk and served", n)
		}
	})
	t.Run("one process, variants", func(t *testing.T) {
		const trustFor = time.Second
		store := must(NewTieredStorage(NewMemoryStorage(0), must(NewDiskStorage(t.TempDir(), 0)), trustFor))
		h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=3600")
			w.Header().Set("Vary", "Accept")
			if r.Header.Get("Accept") == "a" {
				w.Header().Set("Cache-Tag", "tag-a")
			}
			io.WriteString(w, "variant "+r.Header.Get("Accept"))
		}, WithStorage(store), WithSynchronousWrites(true))
		h.get("/v", "Accept", "a") // in memory until trustFor, on disk for an hour
		time.Sleep(trustFor / 2)
		h.get("/v", "Accept", "b") // in memory until 1.5 trustFor
		time.Sleep(trustFor * 3 / 4)
		// Memory holds variant b only; the disk holds a (tagged) and b.
		n, err := h.transport.InvalidateTag(context.Background(), "tag-a")
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(trustFor)
		if got := h.get("/v", "Accept", "a"); got.cache.Hit {
			t.Fatalf("InvalidateTag removed %d keys, and the response tagged tag-a is served after it: %q", n, got.body)
		}
	})
}

// Hostile files in the directory: Keys, Peek and Get neither panic nor
// list a key that is not the file's, nor allocate the length a header
// claims.
func TestReviewDiskHostileHeaders(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	d := must(NewDiskStorage(dir, 0))
	key := "https://a.example/x"
	d.Set(ctx, key, diskTestEntry("x"), time.Hour)
	path := filepath.Join(dir, fileName(key))
	good := must(os.ReadFile(path))
	header := func(n uint64, rest string) []byte {
		b := append([]byte("HCD\x03"), binary.AppendUvarint(nil, n)...)
		return append(b, rest...)
	}
	other := "https://a.example/y"
	hostile := map[string][]byte{
		"empty":           {},
		"magic only":      []byte("HCD"),
		"v3 no length":    []byte("HCD\x03"),
		"huge length":     header(1<<62, "x"),
		"max length":      header(diskMaxKey, strings.Repeat("k", 100)),
		"over max":        header(diskMaxKey+1, strings.Repeat("k", 100)),
		"overlong varint": append([]byte("HCD\x03"), bytes.Repeat([]byte{0xff}, 11)...),
		"zero key":        header(0, string(good[4:])),
		"another key":     header(uint64(len(other)), other),
		"key, no records": header(uint64(len(key)), key),
		"key, junk":       header(uint64(len(key)), key+"junk records"),
		"key, short by 1": header(uint64(len(key)+1), key),
		"v4":              []byte("HCD\x04" + string(good[4:])),
	}
	for name, data := range hostile {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		keys := diskKeys(t, d)
		if name != "key, no records" && name != "key, junk" && name != "key, short by 1" && len(keys) != 0 {
			t.Errorf("%s: listed %q", name, keys)
		}
		for _, k := range keys {
			if k != key {
				t.Errorf("%s: listed %q", name, k)
			}
		}
		if entries, err := d.Peek(ctx, key); err != nil || len(entries) != 0 {
			t.Errorf("%s: Peek %v, %v", name, entries, err)
		}
		if entries, err := d.Get(ctx, key); err != nil || len(entries) != 0 {
			t.Errorf("%s: Get %v, %v", name, entries, err)
		}
	}
}

// InvalidateTag, stores and reads at once, for the race detector.
func TestReviewInvalidateTagRaces(t *testing.T) {
	for name, store := range tagStores(t) {
		t.Run(name, func(t *testing.T) {
			h := taggedHarness(t, WithStorage(store()), WithSynchronousWrites(false))
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Go(func() {
					for j := range 30 {
						h.get("/r"+string(rune('a'+j%5))+"?ct=t,u", "Accept", []string{"a", "b"}[i%2])
					}
				})
			}
			wg.Go(func() {
				for range 20 {
					if _, err := h.transport.InvalidateTag(context.Background(), "t"); err != nil {
						t.Error(err)
					}
					h.transport.Entries(context.Background(), "", 0)
				}
			})
			wg.Wait()
			h.transport.waitForWrites()
			if _, err := h.transport.InvalidateTag(context.Background(), "t"); err != nil {
				t.Fatal(err)
			}
			entries, _ := h.transport.Entries(context.Background(), "", 0)
			for _, e := range entries {
				if slices.Contains(e.Tags, "t") {
					t.Fatalf("after the last purge: %+v", e)
				}
			}
		})
	}
}
