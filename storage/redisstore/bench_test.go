package redisstore_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/redisstore"
	"github.com/redis/go-redis/v9"
)

// origin answers at once with a 1 KiB body that is fresh for an hour.
type origin struct{ body []byte }

func (o origin) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Request: req, ContentLength: int64(len(o.body)),
		Header: http.Header{"Cache-Control": {"max-age=3600"}, "Content-Type": {"application/json"}},
		Body:   io.NopCloser(bytes.NewReader(o.body))}, nil
}

func benchmarkHit(b *testing.B, storage func(client *redis.Client) httpcache.Storage) {
	benchmarkHitOf(b, 1<<10, storage)
}

func benchmarkHitOf(b *testing.B, size int, storage func(client *redis.Client) httpcache.Storage) {
	client := testRedis(b)
	tr := httpcache.New(httpcache.WithTransport(origin{bytes.Repeat([]byte("a"), size)}), httpcache.WithStorage(storage(client)))
	req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/v1/items/42", nil)
	drain := func() {
		resp, err := tr.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	drain()
	tr.Close() // the entry is written
	b.ReportAllocs()
	b.SetBytes(int64(size))
	for b.Loop() {
		drain()
	}
}

// BenchmarkHit1KiB compares a 1 KiB hit through Redis on loopback with a
// hit in memory and a hit through a memory tier in front of Redis.
func BenchmarkHit1KiB(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		benchmarkHit(b, func(*redis.Client) httpcache.Storage { return httpcache.NewMemoryStorage(0) })
	})
	b.Run("redis", func(b *testing.B) {
		benchmarkHit(b, func(client *redis.Client) httpcache.Storage {
			return newStore(client, redisstore.WithPrefix(testPrefix(b, client)))
		})
	})
	b.Run("memory-tier-over-redis", func(b *testing.B) {
		benchmarkHit(b, func(client *redis.Client) httpcache.Storage {
			tiered, err := httpcache.NewTieredStorage(httpcache.NewMemoryStorage(0),
				newStore(client, redisstore.WithPrefix(testPrefix(b, client))), 5*time.Second)
			if err != nil {
				b.Fatal(err)
			}
			return tiered
		})
	})
}

// countingHook counts the round trips a client makes.
type countingHook struct{ roundTrips atomic.Int64 }

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.roundTrips.Add(1)
		return next(ctx, cmd)
	}
}
func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.roundTrips.Add(1)
		return next(ctx, cmds)
	}
}

func TestHitIsOneRoundTrip(t *testing.T) {
	client := testRedis(t)
	prefix := testPrefix(t, client)
	hook := &countingHook{}
	client.AddHook(hook)
	// Generous timeouts: on a loaded machine (CI runs the race detector on
	// every module at once) a write that outlives the default timeout is
	// dropped, as it should be, and the request counted below is a miss.
	store := redisstore.New(client, redisstore.WithPrefix(prefix), redisstore.WithTimeout(30*time.Second))
	tr := httpcache.New(httpcache.WithTransport(origin{[]byte("x")}), httpcache.WithStorage(store),
		httpcache.WithStorageTimeout(30*time.Second))
	defer tr.Close()
	for _, variant := range []string{"en", "fr", "de"} {
		req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/v1/items/1", nil)
		req.Header.Set("Accept-Language", variant)
		resp, _ := tr.RoundTrip(req)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	tr.Close()
	before := hook.roundTrips.Load()
	req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/v1/items/1", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st, _ := httpcache.StatusOf(resp); !st.Hit {
		t.Fatalf("not a hit: %q", resp.Header.Get("Cache-Status"))
	}
	if n := hook.roundTrips.Load() - before; n != 1 {
		t.Fatalf("a hit took %d round trips to Redis, want 1", n)
	}
}

// BenchmarkEncryptedHit compares hits through Redis in clear and with
// WithKeyring, for a 1 KiB and a 256 KiB body.
func BenchmarkEncryptedHit(b *testing.B) {
	keys, err := httpcache.NewKeyring(httpcache.NewKey())
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{1 << 10, 256 << 10} {
		b.Run(fmt.Sprintf("clear-%dKiB", size>>10), func(b *testing.B) {
			benchmarkHitOf(b, size, func(client *redis.Client) httpcache.Storage {
				return newStore(client, redisstore.WithPrefix(testPrefix(b, client)))
			})
		})
		b.Run(fmt.Sprintf("encrypted-%dKiB", size>>10), func(b *testing.B) {
			benchmarkHitOf(b, size, func(client *redis.Client) httpcache.Storage {
				return newStore(client, redisstore.WithPrefix(testPrefix(b, client)), redisstore.WithKeyring(keys))
			})
		})
	}
}
