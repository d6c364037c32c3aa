// Command redis shows two service instances sharing one cache in Redis: the
// second instance's first request is a hit, served from what the first
// stored.
//
//	go run ./examples/redis                      # Redis at 127.0.0.1:6379
//	go run ./examples/redis -addr redis.internal:6379
//
// The address comes from -addr, else from REDIS_ADDR, else 127.0.0.1:6379.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/redisstore"
	"github.com/redis/go-redis/v9"
)

func main() {
	defaultAddr := os.Getenv("REDIS_ADDR")
	if defaultAddr == "" {
		defaultAddr = "127.0.0.1:6379"
	}
	addr := flag.String("addr", defaultAddr, "Redis address, host:port")
	flag.Parse()

	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, `{"rate": 1.08, "at": %q}`, time.Now().Format(time.RFC3339))
	}))
	defer origin.Close()

	for _, instance := range []string{"instance A", "instance B"} {
		status, err := request(*addr, origin.URL+"/v1/rates/eur")
		if err != nil {
			log.Fatalf("%s: %v", instance, err)
		}
		fmt.Printf("%s: Cache-Status: %s\n", instance, status)
	}
}

// request stands for one service instance: its own Redis client and
// Transport, one request, then shutdown (Close writes what is pending).
func request(addr, url string) (string, error) {
	client := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	defer client.Close()
	if err := client.Ping(context.Background()).Err(); err != nil {
		return "", fmt.Errorf("no Redis at %s (start one with: redis-server --port 6379 --save \"\" --appendonly no): %w", addr, err)
	}
	store, err := redisstore.NewStore(client, redisstore.WithPrefix("httpcache-example:"))
	if err != nil {
		return "", err
	}
	cache := httpcache.New(httpcache.WithStorage(store))
	defer cache.Close()
	resp, err := (&http.Client{Transport: cache}).Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return "", err
	}
	return resp.Header.Get("Cache-Status"), nil
}
