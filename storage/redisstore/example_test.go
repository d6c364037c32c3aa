package redisstore_test

import (
	"net/http"
	"os"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/redisstore"
	"github.com/redis/go-redis/v9"
)

// A fleet of service instances sharing one cache in Redis, with a memory
// tier in front of it on each instance (a hot entry costs no round trip;
// a copy in memory is trusted for 5 seconds), the same partition secret on
// every instance (so they share responses to requests with credentials),
// and entries encrypted with a key from the environment.
func Example() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer client.Close()
	key, err := httpcache.ParseKey(os.Getenv("CACHE_KEY")) // openssl rand -hex 32
	if err != nil {
		panic(err)
	}
	keys, err := httpcache.NewKeyring(key)
	if err != nil {
		panic(err)
	}
	shared, err := redisstore.NewStore(client, redisstore.WithKeyring(keys)) // checks its options now
	if err != nil {
		panic(err)
	}
	tiered, err := httpcache.NewTieredStorage(httpcache.NewMemoryStorage(64<<20), shared, 5*time.Second)
	if err != nil {
		panic(err)
	}
	cache, err := httpcache.NewTransport(
		httpcache.WithStorage(tiered),
		httpcache.WithPartitionSecret([]byte(os.Getenv("CACHE_PARTITION_SECRET"))), // the same on every instance
	)
	if err != nil {
		panic(err) // a secret of fewer than 16 bytes, named
	}
	defer cache.Close()
	_ = &http.Client{Transport: cache}
}
