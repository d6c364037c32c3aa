package redisstore_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/redisstore"
	"github.com/c650553b/httpcache/storage/storagetest"
	"github.com/redis/go-redis/v9"
)

func keyring(t testing.TB, keys ...[]byte) *httpcache.Keyring {
	t.Helper()
	k, err := httpcache.NewKeyring(keys[0], keys[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestEncryptedAcceptance(t *testing.T) {
	client := testRedis(t)
	keys := keyring(t, httpcache.NewKey())
	storagetest.Run(t, func(t *testing.T, maxBytes int64) httpcache.Storage {
		if maxBytes != 0 {
			return nil
		}
		return newStore(client, redisstore.WithPrefix(testPrefix(t, client)), redisstore.WithKeyring(keys))
	})
}

// dumpRedis returns every key name under prefix and every value they
// hold (hash fields and values, set and sorted-set members), as text.
func dumpRedis(t *testing.T, client *redis.Client, prefix string) (names []string, dump string) {
	ctx := context.Background()
	var b strings.Builder
	iter := client.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		name := iter.Val()
		names = append(names, name)
		b.WriteString(name + "\n")
		switch client.Type(ctx, name).Val() {
		case "hash":
			for f, v := range client.HGetAll(ctx, name).Val() {
				b.WriteString(f + "=" + v + "\n")
			}
		case "set":
			b.WriteString(strings.Join(client.SMembers(ctx, name).Val(), "\n"))
		case "zset":
			b.WriteString(strings.Join(client.ZRange(ctx, name, 0, -1).Val(), "\n"))
		default:
			b.WriteString(client.Get(ctx, name).Val())
		}
	}
	return names, b.String()
}

// encryptedMember is one instance of a fleet with an encrypted store.
func encryptedMember(t *testing.T, prefix string, keys *httpcache.Keyring, origin *httptest.Server) func(path string, header ...string) (hit bool, body string) {
	rc := redis.NewClient(&redis.Options{Addr: os.Getenv("HTTPCACHE_TEST_REDIS"), ContextTimeoutEnabled: true})
	upstream := &http.Transport{}
	tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithSynchronousWrites(true),
		httpcache.WithPartitionSecret([]byte("fleet secret, the same on every instance")),
		httpcache.WithStorage(newStore(rc, redisstore.WithPrefix(prefix), redisstore.WithKeyring(keys))))
	t.Cleanup(func() {
		tr.Close()
		upstream.CloseIdleConnections()
		rc.Close()
	})
	return func(path string, header ...string) (bool, string) {
		req, _ := http.NewRequest(http.MethodGet, origin.URL+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		st, _ := httpcache.StatusOf(resp)
		return st.Hit, string(body)
	}
}

func plantingOrigin(t *testing.T, requests *atomic.Int64) *httptest.Server {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Vary", "Accept-Language")
		w.Header().Set("X-Planted", "PLANTED-HEADER")
		w.Header().Set("Cache-Tag", "PLANTED-TAG")
		fmt.Fprintf(w, "PLANTED-BODY %s for %s", r.URL.Path, r.Header.Get("Authorization"))
	}))
	t.Cleanup(origin.Close)
	return origin
}

// With WithKeyring, a dump of Redis (names, fields, values, members)
// shows no URL, header, body, Vary value, tag or credential; and every
// entry is served back, listed, purged by tag and invalidated.
func TestEncryptedRedisShowsNothingInClear(t *testing.T) {
	admin := testRedis(t)
	prefix := testPrefix(t, admin)
	var requests atomic.Int64
	origin := plantingOrigin(t, &requests)
	get := encryptedMember(t, prefix, keyring(t, httpcache.NewKey()), origin)
	paths := []string{"/PLANTED-PATH/a?PLANTED-QUERY=1", "/PLANTED-PATH/b"}
	for _, p := range paths {
		get(p)
		get(p, "Accept-Language", "PLANTED-LANGUAGE")
		get(p, "Authorization", "Bearer PLANTED-USER")
	}
	names, dump := dumpRedis(t, admin, prefix)
	if len(names) < 6 {
		t.Fatalf("%d Redis keys: %q", len(names), names)
	}
	for _, planted := range []string{"PLANTED", "127.0.0.1", "Accept-Language", "max-age"} {
		if strings.Contains(dump, planted) {
			t.Errorf("Redis holds %q in clear", planted)
		}
	}
	for _, p := range paths {
		if hit, body := get(p, "Authorization", "Bearer PLANTED-USER"); !hit || !strings.HasSuffix(body, "for Bearer PLANTED-USER") {
			t.Fatalf("%s: hit %v, %q", p, hit, body)
		}
	}
}

// Rotation, a wrong key, and values moved between keys.
func TestEncryptedRedisKeys(t *testing.T) {
	admin := testRedis(t)
	prefix := testPrefix(t, admin)
	var requests atomic.Int64
	origin := plantingOrigin(t, &requests)
	oldKey, newKey := httpcache.NewKey(), httpcache.NewKey()
	before := encryptedMember(t, prefix, keyring(t, oldKey), origin)
	before("/a")
	before("/a", "Authorization", "alice")
	rotated := encryptedMember(t, prefix, keyring(t, newKey, oldKey), origin)
	if hit, _ := rotated("/a"); !hit {
		t.Fatal("an entry of the previous key is not served after rotation")
	}
	if hit, _ := rotated("/a", "Authorization", "alice"); !hit {
		t.Fatal("a partition of the previous key is not served after rotation")
	}
	if hit, _ := encryptedMember(t, prefix, keyring(t, httpcache.NewKey()), origin)("/a"); hit {
		t.Fatal("served with a key that did not seal the entry")
	}
	rotated("/b") // stored under the new key
	if hit, _ := encryptedMember(t, prefix, keyring(t, newKey), origin)("/b"); !hit {
		t.Fatal("an entry of the new key is not served without the old one")
	}
	// A value moved into another key's hash does not open there.
	store := newStore(admin, redisstore.WithPrefix(prefix), redisstore.WithKeyring(keyring(t, newKey)))
	ctx := context.Background()
	store.Set(ctx, "https://a.example/x\x00alice", storagetest.NewEntry("", "alice's", 10), time.Hour)
	store.Set(ctx, "https://a.example/x\x00bob", storagetest.NewEntry("", "bob's", 10), time.Hour)
	names, _ := dumpRedis(t, admin, prefix)
	// Move every encrypted hash's fields to the next one's name.
	var hashes []string
	for _, name := range names {
		if admin.Type(ctx, name).Val() == "hash" && admin.HExists(ctx, name, "key").Val() {
			hashes = append(hashes, name)
		}
	}
	values := map[string]map[string]string{}
	for _, h := range hashes {
		values[h] = admin.HGetAll(ctx, h).Val()
	}
	for i, h := range hashes {
		other := values[hashes[(i+1)%len(hashes)]]
		admin.Del(ctx, h)
		for f, v := range other {
			admin.HSet(ctx, h, f, v)
		}
	}
	for _, user := range []string{"alice", "bob"} {
		if entries, _ := store.Get(ctx, "https://a.example/x\x00"+user); len(entries) != 0 {
			body, _ := io.ReadAll(must(entries[0].Body.Open()))
			if !strings.Contains(string(body), user) {
				t.Fatalf("%s was served another key's entry: %q", user, body)
			}
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Listing, purge by tag and invalidation work with encrypted names.
func TestEncryptedRedisListsAndPurges(t *testing.T) {
	admin := testRedis(t)
	prefix := testPrefix(t, admin)
	rc := redis.NewClient(&redis.Options{Addr: os.Getenv("HTTPCACHE_TEST_REDIS"), ContextTimeoutEnabled: true})
	defer rc.Close()
	store := newStore(rc, redisstore.WithPrefix(prefix), redisstore.WithKeyring(keyring(t, httpcache.NewKey())))
	ctx := context.Background()
	tagged := func(id string) *httpcache.Entry {
		e := storagetest.NewEntry("", id, 10)
		e.Tags = []string{"t"}
		return e
	}
	store.Set(ctx, "https://a.example/x", tagged("x"), time.Hour)
	store.Set(ctx, "https://a.example/x\x00alice", tagged("xa"), time.Hour)
	store.Set(ctx, "https://b.example/y", storagetest.NewEntry("", "y", 10), time.Hour)
	var listed []string
	if err := store.Keys(ctx, "https://a.example/", func(key string) bool { listed = append(listed, key); return true }); err != nil || len(listed) != 2 {
		t.Fatalf("Keys: %q, %v", listed, err)
	}
	var taggedKeys []string
	store.KeysTagged(ctx, "t", func(key string) bool { taggedKeys = append(taggedKeys, key); return true })
	if len(taggedKeys) != 2 {
		t.Fatalf("KeysTagged: %q", taggedKeys)
	}
	store.DeleteURL(ctx, "https://a.example/x")
	for _, key := range []string{"https://a.example/x", "https://a.example/x\x00alice"} {
		if entries, _ := store.Get(ctx, key); len(entries) != 0 {
			t.Fatalf("%q survived DeleteURL", key)
		}
	}
	if entries, _ := store.Get(ctx, "https://b.example/y"); len(entries) != 1 {
		t.Fatal("DeleteURL removed another URL")
	}
}
