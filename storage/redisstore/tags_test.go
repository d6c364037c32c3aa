package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/redisstore"
	"github.com/redis/go-redis/v9"
)

// taggedOrigin serves each path with the Cache-Tag its query's t names,
// and a body that names the user.
func taggedOrigin(t *testing.T, requests *atomic.Int64) *httptest.Server {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Cache-Tag", r.URL.Query().Get("t"))
		fmt.Fprintf(w, "%s for %s", r.URL.Path, r.Header.Get("Authorization"))
	}))
	t.Cleanup(origin.Close)
	return origin
}

// fleetMember is one instance of a fleet: its own client and Transport on
// the shared Redis.
type fleetMember struct {
	transport *httpcache.Transport
	client    *http.Client
}

func newFleetMember(t *testing.T, prefix string) *fleetMember {
	rc := redis.NewClient(&redis.Options{Addr: os.Getenv("HTTPCACHE_TEST_REDIS"), ContextTimeoutEnabled: true})
	upstream := &http.Transport{}
	tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithSynchronousWrites(true),
		httpcache.WithPartitionSecret([]byte("fleet secret, the same on every instance")),
		httpcache.WithStorage(newStore(rc, redisstore.WithPrefix(prefix))))
	t.Cleanup(func() {
		tr.Close()
		upstream.CloseIdleConnections()
		rc.Close()
	})
	return &fleetMember{transport: tr, client: &http.Client{Transport: tr}}
}

func (m *fleetMember) hit(t *testing.T, url, user string) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+user)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	st, _ := httpcache.StatusOf(resp)
	return st.Hit
}

// One instance's InvalidateTag purges what every instance stored under
// the tag, in every partition, through the tag's index (no SCAN), and
// nothing else.
func TestInvalidateTagPurgesTheFleet(t *testing.T) {
	admin := testRedis(t)
	prefix := testPrefix(t, admin)
	var requests atomic.Int64
	origin := taggedOrigin(t, &requests)
	a, b := newFleetMember(t, prefix), newFleetMember(t, prefix)
	product := origin.URL + "/product/1?t=product-1,catalog"
	list := origin.URL + "/list?t=catalog"
	other := origin.URL + "/product/2?t=product-2"
	a.hit(t, product, "")
	a.hit(t, product, "alice")
	b.hit(t, product, "bob")
	b.hit(t, list, "")
	a.hit(t, other, "")
	if !b.hit(t, product, "alice") || !a.hit(t, product, "bob") {
		t.Fatal("the fleet does not share its entries")
	}
	n, err := b.transport.InvalidateTag(context.Background(), "product-1")
	if err != nil || n != 3 {
		t.Fatalf("InvalidateTag removed %d, %v; want 3 keys", n, err)
	}
	if n, _ := a.transport.InvalidateTag(context.Background(), "product-1"); n != 0 {
		t.Fatalf("a second purge removed %d keys: the index still names deleted ones", n)
	}
	for _, user := range []string{"", "alice", "bob"} {
		if a.hit(t, product, user) {
			t.Fatalf("user %q: the purged response is still served to another instance", user)
		}
	}
	if !a.hit(t, list, "") || !a.hit(t, other, "") {
		t.Fatal("a response without the tag was purged")
	}
	if n, _ := a.transport.InvalidateTag(context.Background(), "catalog"); n != 4 {
		t.Fatalf("catalog: removed %d, want 4 (the product's three keys, stored again by the checks above, and the list)", n)
	}
}

// A tag's set drops its expired members when written, and expires by
// itself after its longest-lived member.
func TestTagSetsStayBounded(t *testing.T) {
	admin := testRedis(t)
	prefix := testPrefix(t, admin)
	store := newStore(admin, redisstore.WithPrefix(prefix))
	ctx := context.Background()
	entry := func() *httpcache.Entry {
		return &httpcache.Entry{StatusCode: 200, Header: http.Header{}, Body: httpcache.BytesBody("x"),
			RequestTime: time.Now(), ResponseTime: time.Now(), Tags: []string{"hot"}}
	}
	for i := range 5 {
		if err := store.Set(ctx, fmt.Sprintf("https://a.example/short/%d", i), entry(), time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(5 * time.Millisecond) // Redis expires by its own clock
	if err := store.Set(ctx, "https://a.example/long", entry(), time.Hour); err != nil {
		t.Fatal(err)
	}
	var sets []string
	iter := admin.Scan(ctx, 0, prefix+"*t:hot", 10).Iterator()
	for iter.Next(ctx) {
		sets = append(sets, iter.Val())
	}
	if len(sets) != 1 {
		t.Fatalf("tag sets %q", sets)
	}
	if members := admin.ZCard(ctx, sets[0]).Val(); members != 1 {
		t.Fatalf("the set kept %d members, want the live one", members)
	}
	if ttl := admin.PTTL(ctx, sets[0]).Val(); ttl <= 59*time.Minute {
		t.Fatalf("the set expires in %v, before its member", ttl)
	}
	var keys []string
	store.KeysTagged(ctx, "hot", func(key string) bool { keys = append(keys, key); return true })
	if len(keys) != 1 || !strings.HasSuffix(keys[0], "/long") {
		t.Fatalf("KeysTagged %q", keys)
	}
}

// failingPipelines fails every pipeline of scripts a client sends (the
// tag index's writes), as a Redis that goes away between two round trips
// would.
type failingPipelines struct{}

func (failingPipelines) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (failingPipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (failingPipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if cmd.Name() == "eval" {
				return errors.New("connection reset")
			}
		}
		return next(ctx, cmds)
	}
}

// When the index cannot be written, the entry is not written either: no
// entry is ever in Redis without being in its tags' sets.
func TestTaggedEntryIsNotStoredWithoutItsIndex(t *testing.T) {
	admin := testRedis(t)
	prefix := testPrefix(t, admin)
	client := redis.NewClient(&redis.Options{Addr: os.Getenv("HTTPCACHE_TEST_REDIS"), ContextTimeoutEnabled: true})
	defer client.Close()
	client.AddHook(failingPipelines{})
	store := newStore(client, redisstore.WithPrefix(prefix))
	ctx := context.Background()
	entry := &httpcache.Entry{StatusCode: 200, Header: http.Header{}, Body: httpcache.BytesBody("x"), Tags: []string{"t"}}
	if err := store.Set(ctx, "https://a.example/", entry, time.Minute); err == nil {
		t.Fatal("Set succeeded though the index was not written")
	}
	if entries, err := newStore(admin, redisstore.WithPrefix(prefix)).Get(ctx, "https://a.example/"); err != nil || len(entries) != 0 {
		t.Fatalf("the entry was stored without its index: %d, %v", len(entries), err)
	}
	entry.Tags = nil
	if err := newStore(client, redisstore.WithPrefix(prefix)).Set(ctx, "https://a.example/", entry, time.Minute); err != nil {
		t.Fatalf("an untagged entry needs no pipeline: %v", err)
	}
}
