package redisstore_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/redisstore"
	"github.com/c650553b/httpcache/storage/storagetest"
	"github.com/redis/go-redis/v9"
)

// countingConn counts the bytes a client reads from Redis.
type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// TestHitMovesOneUsersEntry: twenty users of one URL, each with a 20 KiB
// response of their own. A hit for one of them reads that user's entry
// from Redis, not the URL's other nineteen.
func TestHitMovesOneUsersEntry(t *testing.T) {
	const users, bodySize = 20, 20 << 10
	admin := testRedis(t)
	prefix := testPrefix(t, admin)
	var read atomic.Int64
	client := redis.NewClient(&redis.Options{Addr: os.Getenv("HTTPCACHE_TEST_REDIS"), ContextTimeoutEnabled: true,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{conn, &read}, nil
		}})
	defer client.Close()
	body := func(user string) []byte { return bytes.Repeat([]byte(user+"."), bodySize/(len(user)+1)+1)[:bodySize] }
	var originRequests atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		originRequests.Add(1)
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write(body(r.Header.Get("Authorization")))
	}))
	defer origin.Close()
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithStorage(newStore(client, redisstore.WithPrefix(prefix))))
	defer tr.Close()
	fetch := func(user string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, origin.URL+"/me", nil)
		req.Header.Set("Authorization", user)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp, b.String()
	}
	for i := range users {
		fetch("Bearer user-" + strconv.Itoa(i))
	}
	tr.Close() // the entries are written
	var keys int
	for iter := admin.Scan(context.Background(), 0, prefix+"*", 1000).Iterator(); iter.Next(context.Background()); {
		keys++
	}
	if keys != users+1 { // one hash per user, and the URL's index
		t.Fatalf("%d Redis keys for %d users of one URL, want %d", keys, users, users+1)
	}

	user := "Bearer user-7"
	before := read.Load()
	resp, got := fetch(user)
	moved := read.Load() - before
	if !isHit(resp) || got != string(body(user)) {
		t.Fatalf("not %s's hit: %q, %d bytes", user, resp.Header.Get("Cache-Status"), len(got))
	}
	if n := originRequests.Load(); n != users {
		t.Fatalf("origin requests = %d, want %d", n, users)
	}
	t.Logf("a hit for one of %d users with %d-byte bodies read %d bytes from Redis", users, bodySize, moved)
	if moved < bodySize || moved > bodySize*5/4 {
		t.Fatalf("a hit read %d bytes from Redis; one user's entry is about %d", moved, bodySize)
	}
}

// TestIndex: a partitioned key is indexed under its URL, the index lives
// as long as the URL's longest-lived entry, Delete takes a partition out
// of it, and a key without a partition makes no index.
func TestIndex(t *testing.T) {
	client := testRedis(t)
	prefix := testPrefix(t, client)
	s := newStore(client, redisstore.WithPrefix(prefix), redisstore.WithMaxTTL(time.Hour))
	ctx := context.Background()
	url := "https://example.com/index"
	alice, bob := storagetest.PartitionKey(url, fmt.Sprintf("%064x", 1)), storagetest.PartitionKey(url, fmt.Sprintf("%064x", 2))
	s.Set(ctx, url, storagetest.NewEntry("", "plain", 10), 0)
	if n := client.Exists(ctx, s.IndexKey(url)).Val(); n != 0 {
		t.Fatal("a key without a partition made an index")
	}
	s.Set(ctx, alice, storagetest.NewEntry("", "alice", 10), 30*time.Second)
	s.Set(ctx, bob, storagetest.NewEntry("", "bob", 10), 10*time.Second)
	if ttl := client.PTTL(ctx, s.IndexKey(url)).Val(); ttl <= 25*time.Second || ttl > 30*time.Second {
		t.Fatalf("index TTL %v, want the longest entry's 30s", ttl)
	}
	if got := client.SMembers(ctx, s.IndexKey(url)).Val(); len(got) != 2 {
		t.Fatalf("index %q, want alice's and bob's partitions", got)
	}
	if err := s.Delete(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if got := client.SMembers(ctx, s.IndexKey(url)).Val(); len(got) != 1 || got[0] != fmt.Sprintf("%064x", 2) {
		t.Fatalf("index after deleting alice: %q, want bob's partition", got)
	}
}

// TestIndexDropsExpiredPartitions: partitions whose entries have expired
// leave the index as other partitions of the URL are stored, so that a
// URL used by ever new users keeps an index near its live partitions.
func TestIndexDropsExpiredPartitions(t *testing.T) {
	client := testRedis(t)
	prefix := testPrefix(t, client)
	s := newStore(client, redisstore.WithPrefix(prefix))
	ctx := context.Background()
	url := "https://example.com/churn"
	for i := range 50 {
		s.Set(ctx, storagetest.PartitionKey(url, fmt.Sprintf("%064x", i)), storagetest.NewEntry("", "gone", 10), 20*time.Millisecond)
	}
	s.Set(ctx, storagetest.PartitionKey(url, fmt.Sprintf("%064x", 999)), storagetest.NewEntry("", "live", 10), time.Hour)
	time.Sleep(50 * time.Millisecond)
	for range 200 {
		s.Set(ctx, storagetest.PartitionKey(url, fmt.Sprintf("%064x", 999)), storagetest.NewEntry("", "live", 10), time.Hour)
	}
	if n := client.SCard(ctx, s.IndexKey(url)).Val(); n != 1 {
		t.Fatalf("index holds %d partitions, want the 1 live one", n)
	}
}

// TestDeleteURLRacingSets stores new partitions of a URL while DeleteURL
// runs: whatever survives a DeleteURL is indexed, so the next one removes
// it.
func TestDeleteURLRacingSets(t *testing.T) {
	client := testRedis(t)
	testDeleteURLRacingSets(t, client, testPrefix(t, client))
}

// TestClusterDeleteURL: on a Redis Cluster, a URL's keys share one slot,
// DeleteURL removes every partition of its URL and nothing of another,
// and holds with Sets of new partitions running at once.
func TestClusterDeleteURL(t *testing.T) {
	client := startCluster(t)
	prefix := "cluster-delete-url:"
	s := newStore(client, redisstore.WithPrefix(prefix))
	ctx := context.Background()
	urls := []string{"https://example.com/a", "https://example.com/b", "https://example.org/a?x=1"}
	for _, url := range urls {
		s.Set(ctx, url, storagetest.NewEntry("", "plain", 10), time.Hour)
		for i := range 30 {
			if err := s.Set(ctx, storagetest.PartitionKey(url, fmt.Sprintf("%064x", i)), storagetest.NewEntry("", "u", 10), time.Hour); err != nil {
				t.Fatal(err)
			}
		}
	}
	slots := map[int64]bool{}
	for _, url := range urls {
		slot, err := client.ClusterKeySlot(ctx, s.IndexKey(url)).Result()
		if err != nil {
			t.Fatal(err)
		}
		slots[slot] = true
		for _, key := range []string{url, storagetest.PartitionKey(url, fmt.Sprintf("%064x", 7))} {
			if got := client.ClusterKeySlot(ctx, s.EntryKey(key)).Val(); got != slot {
				t.Fatalf("key %q in slot %d, its URL's index in %d", key, got, slot)
			}
		}
	}
	if len(slots) < 2 {
		t.Logf("the test's URLs share a slot (%v): not a cross-node test", slots)
	}
	if err := s.DeleteURL(ctx, urls[0]); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	var mu sync.Mutex
	err := client.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		for iter := node.Scan(ctx, 0, prefix+"*", 1000).Iterator(); iter.Next(ctx); {
			for _, url := range urls {
				if strings.Contains(iter.Val(), url) {
					mu.Lock()
					counts[url]++
					mu.Unlock()
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if counts[urls[0]] != 0 || counts[urls[1]] != 32 || counts[urls[2]] != 32 {
		t.Fatalf("Redis keys per URL after DeleteURL(%q): %v; want none of it and 32 (31 hashes, an index) of the others", urls[0], counts)
	}
	testDeleteURLRacingSets(t, client, "cluster-race:")
}

func testDeleteURLRacingSets(t *testing.T, client redis.UniversalClient, prefix string) {
	s := redisstore.New(client, redisstore.WithPrefix(prefix), redisstore.WithTimeout(5*time.Second))
	ctx := context.Background()
	url := "https://example.com/race"
	const writers, perWriter = 4, 100
	var wg sync.WaitGroup
	var stop atomic.Bool
	deletes := make(chan int)
	go func() {
		n := 0
		for !stop.Load() {
			if err := s.DeleteURL(ctx, url); err != nil {
				t.Error(err)
			}
			n++
		}
		deletes <- n
	}()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				key := storagetest.PartitionKey(url, fmt.Sprintf("%032x%032x", w, i))
				if err := s.Set(ctx, key, storagetest.NewEntry("", "r", 100), time.Hour); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	t.Logf("%d DeleteURL calls ran during %d Sets", <-deletes, writers*perWriter)
	indexed := map[string]bool{}
	for _, p := range client.SMembers(ctx, s.IndexKey(url)).Val() {
		indexed[p] = true
	}
	var left int
	for w := range writers {
		for i := range perWriter {
			partition := fmt.Sprintf("%032x%032x", w, i)
			if client.Exists(ctx, s.EntryKey(storagetest.PartitionKey(url, partition))).Val() == 1 {
				left++
				if !indexed[partition] {
					t.Fatalf("partition %s survived a DeleteURL and is not in the index", partition)
				}
			}
		}
	}
	if err := s.DeleteURL(ctx, url); err != nil {
		t.Fatal(err)
	}
	for w := range writers {
		for i := range perWriter {
			if got, _ := s.Get(ctx, storagetest.PartitionKey(url, fmt.Sprintf("%032x%032x", w, i))); len(got) != 0 {
				t.Fatalf("after a final DeleteURL, partition %d/%d is left (%d were left before it)", w, i, left)
			}
		}
	}
}

// TestThousandUsersOnOneURL: through the Transport, after one request each,
// every one of 1,000 users' next request is a hit with their own response,
// on Redis and on a memory tier over Redis.
func TestThousandUsersOnOneURL(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 requests per store")
	}
	client := testRedis(t)
	stores := map[string]func() httpcache.Storage{
		"redis": func() httpcache.Storage { return newStore(client, redisstore.WithPrefix(testPrefix(t, client))) },
		"tiered": func() httpcache.Storage {
			tiered, err := httpcache.NewTieredStorage(httpcache.NewMemoryStorage(0),
				newStore(client, redisstore.WithPrefix(testPrefix(t, client))), time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return tiered
		},
	}
	for name, store := range stores {
		t.Run(name, func(t *testing.T) {
			var originRequests atomic.Int64
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				originRequests.Add(1)
				w.Header().Set("Cache-Control", "max-age=3600")
				io.WriteString(w, "profile of "+r.Header.Get("Authorization"))
			}))
			defer origin.Close()
			upstream := &http.Transport{}
			defer upstream.CloseIdleConnections()
			tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithStorage(store()))
			defer tr.Close()
			const users = 1000
			for round := range 2 {
				for i := range users {
					auth := "Bearer user-" + strconv.Itoa(i)
					req, _ := http.NewRequest(http.MethodGet, origin.URL+"/profile", nil)
					req.Header.Set("Authorization", auth)
					resp, err := tr.RoundTrip(req)
					if err != nil {
						t.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if string(body) != "profile of "+auth {
						t.Fatalf("round %d: user %d got %q", round, i, body)
					}
					if round == 1 && !isHit(resp) {
						t.Fatalf("user %d's second request: %s", i, resp.Header.Get("Cache-Status"))
					}
				}
				if round == 0 {
					waitForWrites(tr)
				}
			}
			if n := originRequests.Load(); n != users {
				t.Fatalf("origin requests = %d, want %d", n, users)
			}
		})
	}
}

// waitForWrites waits for the entries the Transport writes behind the
// requests: a Transport answers after Close too, and writes at once then.
func waitForWrites(tr *httpcache.Transport) { tr.Close() }

// TestNoCredentialInRedis: no key or value in Redis holds a credential,
// from the credential fields, from a Vary naming them or from the query.
func TestNoCredentialInRedis(t *testing.T) {
	admin := testRedis(t)
	prefix := testPrefix(t, admin)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age=3600")
		w.Header().Set("Vary", "Cookie, Authorization, X-Api-Key")
		io.WriteString(w, "profile")
	}))
	defer origin.Close()
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithStorage(newStore(admin, redisstore.WithPrefix(prefix))))
	for name, value := range map[string]string{"Authorization": "Bearer SECRET-a", "Cookie": "session=SECRET-b", "X-Api-Key": "SECRET-c"} {
		req, _ := http.NewRequest(http.MethodGet, origin.URL+"/profile", nil)
		req.Header.Set(name, value)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// A token in the query is a credential too.
	for _, target := range []string{"/a?access_token=SECRET-d", "/b?page=1&api_key=SECRET-e"} {
		resp, err := tr.RoundTrip(must(http.NewRequest(http.MethodGet, origin.URL+target, nil)))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	tr.Close()
	ctx := context.Background()
	var keys int
	for iter := admin.Scan(ctx, 0, prefix+"*", 1000).Iterator(); iter.Next(ctx); {
		key := iter.Val()
		keys++
		content := []string{key}
		switch kind := admin.Type(ctx, key).Val(); kind {
		case "hash":
			for field, value := range admin.HGetAll(ctx, key).Val() {
				content = append(content, field, value)
			}
		case "set":
			content = append(content, admin.SMembers(ctx, key).Val()...)
		default:
			t.Fatalf("Redis key %q is a %s, which this test does not read", key, kind)
		}
		for _, s := range content {
			if strings.Contains(s, "SECRET") {
				t.Errorf("Redis key %q holds a credential", key)
			}
		}
	}
	if keys < 5 {
		t.Fatalf("%d Redis keys for 5 responses", keys)
	}
}

// TestFailedInvalidationIsNotForgotten: Redis takes reads but drops writes
// (CLIENT PAUSE WRITE) when a POST invalidates a URL. The invalidated
// entry, which Redis still returns, is not served; once Redis takes writes
// again, the delete is retried and the entry gone from Redis.
func TestFailedInvalidationIsNotForgotten(t *testing.T) {
	r := startRedis(t, freePort(t))
	client := redis.NewClient(&redis.Options{Addr: r.addr(), ContextTimeoutEnabled: true})
	defer client.Close()
	admin := redis.NewClient(&redis.Options{Addr: r.addr()})
	defer admin.Close()
	var version atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			version.Add(1)
			return
		}
		w.Header().Set("Cache-Control", "max-age=3600")
		fmt.Fprintf(w, "v%d", version.Load())
	}))
	defer origin.Close()
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	store := redisstore.New(client, redisstore.WithTimeout(100*time.Millisecond), redisstore.WithRetryWait(time.Millisecond))
	tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithStorage(store), httpcache.WithSynchronousWrites(true))
	defer tr.Close()
	do := func(method string) (string, *http.Response) {
		req, _ := http.NewRequest(method, origin.URL+"/doc", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(body), resp
	}
	do(http.MethodGet)
	if body, resp := do(http.MethodGet); body != "v0" || !isHit(resp) {
		t.Fatalf("before: %q %s", body, resp.Header.Get("Cache-Status"))
	}
	if err := admin.Do(context.Background(), "CLIENT", "PAUSE", "3000", "WRITE").Err(); err != nil {
		t.Skipf("CLIENT PAUSE WRITE: %v", err)
	}
	do(http.MethodPost) // the origin changes; the delete times out
	time.Sleep(10 * time.Millisecond)
	if body, resp := do(http.MethodGet); isHit(resp) || body != "v1" {
		t.Fatalf("after a failed invalidation: %q %s; want v1 from the origin", body, resp.Header.Get("Cache-Status"))
	}
	admin.Do(context.Background(), "CLIENT", "UNPAUSE")
	deadline := time.Now().Add(10 * time.Second)
	for {
		keys, _ := admin.Keys(context.Background(), "*").Result()
		if len(keys) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the delete was not retried: %d keys left", len(keys))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestValueMovedToAnotherKeyIsAMiss: a hash copied over another URL's or
// another partition's (COPY ... REPLACE, as a restore gone wrong would) is
// not served there: each value carries its key's digest.
func TestValueMovedToAnotherKeyIsAMiss(t *testing.T) {
	admin := testRedis(t)
	prefix := testPrefix(t, admin)
	store := newStore(admin, redisstore.WithPrefix(prefix))
	ctx := context.Background()
	entry := storagetest.NewEntry("", "a", 10)
	for _, to := range []string{"https://h/b", "https://h/a\x00" + strings.Repeat("0", 64)} {
		if err := store.Set(ctx, "https://h/a", entry, time.Hour); err != nil {
			t.Fatal(err)
		}
		from, dest := store.EntryKey("https://h/a"), store.EntryKey(to)
		if err := admin.Copy(ctx, from, dest, 0, true).Err(); err != nil {
			t.Fatal(err)
		}
		if got, err := store.Get(ctx, to); err != nil || len(got) != 0 {
			t.Fatalf("%q: %d entries, %v; want a miss", to, len(got), err)
		}
		if got, _ := store.Get(ctx, "https://h/a"); len(got) != 1 {
			t.Fatal("the entry is not served under its own key")
		}
	}
}
