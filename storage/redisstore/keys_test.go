package redisstore_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/redisstore"
	"github.com/c650553b/httpcache/storage/storagetest"
	"github.com/redis/go-redis/v9"
)

// storeKeys stores a key without a partition and partitions partitioned
// keys for each URL, and returns the storage keys.
func storeKeys(t *testing.T, s *redisstore.Store, urls []string, partitions int) []string {
	t.Helper()
	ctx := context.Background()
	var keys []string
	for _, url := range urls {
		keys = append(keys, url)
		for i := range partitions {
			keys = append(keys, storagetest.PartitionKey(url, fmt.Sprintf("%064x", i)))
		}
	}
	for _, key := range keys {
		if err := s.Set(ctx, key, storagetest.NewEntry("", "x", 10), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// listKeys returns what s.Keys lists under prefix, failing the test on a
// key listed twice.
func listKeys(t *testing.T, s *redisstore.Store, prefix string) []string {
	t.Helper()
	var keys []string
	if err := s.Keys(context.Background(), prefix, func(key string) bool { keys = append(keys, key); return true }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if len(slices.Compact(slices.Clone(keys))) != len(keys) {
		t.Fatalf("a key listed twice: %q", keys)
	}
	return keys
}

// TestKeys: every key of several URLs and partitions is listed once
// (across several SCAN calls), with no index, no key of a store whose
// prefix the store's would match as a glob, and only the URLs under the
// prefix asked for; fn stops the listing, and may call the store.
func TestKeys(t *testing.T) {
	client := testRedis(t)
	base := testPrefix(t, client)
	s := newStore(client, redisstore.WithPrefix(base+"a*[x]:"))
	other := newStore(client, redisstore.WithPrefix(base+"ab[x]:"))
	urls := []string{"https://example.com/a", "https://example.com/ab?q=1", "https://example.org/a"}
	keys := storeKeys(t, s, urls, 300)
	storeKeys(t, other, urls, 2)
	slices.Sort(keys)
	if got := listKeys(t, s, ""); !slices.Equal(got, keys) {
		t.Fatalf("listed %d keys, want the %d stored", len(got), len(keys))
	}
	under := listKeys(t, s, "https://example.com/a")
	if len(under) != 2*301 || slices.ContainsFunc(under, func(key string) bool { return strings.HasPrefix(key, "https://example.org/") }) {
		t.Fatalf("listed %d keys under https://example.com/a, want the 602 of its two URLs", len(under))
	}
	if got := listKeys(t, s, "https://example.net/"); len(got) != 0 {
		t.Fatalf("listed %q under a prefix of no URL", got)
	}

	calls := 0
	if err := s.Keys(context.Background(), "", func(string) bool { calls++; return calls < 3 }); err != nil || calls != 3 {
		t.Fatalf("fn called %d times (%v), want 3: its false stops the listing", calls, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Keys(ctx, "", func(string) bool { t.Fatal("fn called after ctx ended"); return true }); err != context.Canceled {
		t.Fatalf("Keys on an ended ctx: %v", err)
	}

	deleted := 0
	err := s.Keys(context.Background(), "https://example.org/", func(key string) bool {
		deleted++
		return s.Delete(context.Background(), key) == nil
	})
	if err != nil || deleted != 301 {
		t.Fatalf("deleted %d keys while listing (%v), want 301", deleted, err)
	}
	if got := listKeys(t, s, "https://example.org/"); len(got) != 0 {
		t.Fatalf("%d keys left after deleting them while listing", len(got))
	}
	if got := listKeys(t, other, ""); len(got) != 3*3 {
		t.Fatalf("the other store lists %d keys, want its 9", len(got))
	}
}

// TestClusterKeys: on a Redis Cluster, Keys lists the keys of every
// master, each once.
func TestClusterKeys(t *testing.T) {
	client := startCluster(t)
	s := newStore(client, redisstore.WithPrefix("cluster-keys:"))
	var urls []string
	for i := range 20 {
		urls = append(urls, fmt.Sprintf("https://example.com/%d", i))
	}
	keys := storeKeys(t, s, urls, 3)
	slices.Sort(keys)
	var masters atomic.Int64
	client.ForEachMaster(context.Background(), func(ctx context.Context, node *redis.Client) error {
		if node.DBSize(ctx).Val() > 0 {
			masters.Add(1)
		}
		return nil
	})
	if masters.Load() < 2 {
		t.Fatalf("the keys are on %d master(s): not a cross-node test", masters.Load())
	}
	if got := listKeys(t, s, ""); !slices.Equal(got, keys) {
		t.Fatalf("listed %d keys, want the %d stored", len(got), len(keys))
	}
	if got := listKeys(t, s, "https://example.com/1"); len(got) != 11*4 {
		t.Fatalf("listed %d keys under https://example.com/1, want the 44 of /1 and /10-/19", len(got))
	}
}

// TestTransportEntriesAndPurge: through a Transport, Entries shows what
// is in Redis, InvalidatePrefix removes the entries under a prefix from
// Redis, in every partition, and Clear the rest.
func TestTransportEntriesAndPurge(t *testing.T) {
	client := testRedis(t)
	prefix := testPrefix(t, client)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/user/") {
			w.Header().Set("Cache-Control", "private, max-age=3600")
		} else {
			w.Header().Set("Cache-Control", "max-age=3600")
		}
		io.WriteString(w, "body")
	}))
	defer origin.Close()
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithSynchronousWrites(true),
		httpcache.WithStorage(newStore(client, redisstore.WithPrefix(prefix))))
	defer tr.Close()
	get := func(path, auth string) {
		req, _ := http.NewRequest(http.MethodGet, origin.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get("/pub/a", "")
	get("/pub/b", "")
	get("/user/me", "Bearer alice")
	get("/user/me", "Bearer bob")
	redisKeys := func() int {
		ctx := context.Background()
		n := 0
		for iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator(); iter.Next(ctx); {
			n++
		}
		return n
	}
	if n := redisKeys(); n != 5 {
		t.Fatalf("%d Redis keys, want 5: 4 entries and the index of /user/me", n)
	}

	ctx := context.Background()
	infos, err := tr.Entries(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, info := range infos {
		got = append(got, fmt.Sprintf("%s %v %d", strings.TrimPrefix(info.URL, origin.URL), info.Partitioned, info.Variants))
	}
	want := []string{"/pub/a false 1", "/pub/b false 1", "/user/me true 1", "/user/me true 1"}
	if !slices.Equal(got, want) {
		t.Fatalf("Entries: %q, want %q", got, want)
	}
	if infos, err := tr.Entries(ctx, origin.URL+"/user/", 1); err != nil || len(infos) != 1 {
		t.Fatalf("Entries with a limit of 1: %d, %v", len(infos), err)
	}

	if n, err := tr.InvalidatePrefix(ctx, origin.URL+"/user/"); err != nil || n != 2 {
		t.Fatalf("InvalidatePrefix(/user/) removed %d keys, %v; want 2", n, err)
	}
	if n := redisKeys(); n != 2 {
		t.Fatalf("%d Redis keys after InvalidatePrefix(/user/), want the 2 of /pub/", n)
	}
	if err := tr.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if n := redisKeys(); n != 0 {
		t.Fatalf("%d Redis keys after Clear, want none", n)
	}
	if infos, err := tr.Entries(ctx, "", 0); err != nil || len(infos) != 0 {
		t.Fatalf("Entries after Clear: %d, %v", len(infos), err)
	}
}
