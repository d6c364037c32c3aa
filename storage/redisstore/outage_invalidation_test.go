package redisstore_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/redisstore"
	"github.com/redis/go-redis/v9"
)

// Invalidations during a Redis outage, through a TieredStorage: each must
// at least stop this instance serving what it was asked to remove (a
// failed delete is remembered), whatever it returns.
func TestInvalidationDuringOutageTiered(t *testing.T) {
	for _, how := range []string{"Invalidate", "POST", "InvalidatePrefix", "Clear"} {
		t.Run(how, func(t *testing.T) {
			port := freePort(t)
			server := startRedis(t, port)
			var version, requests atomic.Int64
			origin := versionedOrigin(t, &version, &requests, "Accept-Language")
			client := redis.NewClient(&redis.Options{Addr: server.addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
			defer client.Close()
			upstream := &http.Transport{}
			defer upstream.CloseIdleConnections()
			store := redisstore.New(client, redisstore.WithTimeout(100*time.Millisecond), redisstore.WithRetryWait(time.Hour))
			tiered, _ := httpcache.NewTieredStorage(httpcache.NewMemoryStorage(1<<20), store, time.Hour)
			tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithStorage(tiered))
			defer tr.Close()
			paths := []string{"/doc", "/doc/sub"}
			users := []string{"", "Bearer u1"}
			for _, p := range paths {
				for _, u := range users {
					doRequest(t, tr, "GET", origin.URL+p, "Authorization", u, "Accept-Language", "en")
				}
			}
			tr.Close()
			for _, p := range paths {
				for _, u := range users {
					if resp, _ := doRequest(t, tr, "GET", origin.URL+p, "Authorization", u, "Accept-Language", "en"); !isHit(resp) {
						t.Fatalf("%s %q not a hit before", p, u)
					}
				}
			}
			server.stop()
			if how != "POST" {
				version.Add(1) // the origin counts a POST itself
			}
			var err error
			switch how {
			case "Invalidate":
				err = tr.Invalidate(context.Background(), origin.URL+"/doc")
			case "POST":
				doRequest(t, tr, "POST", origin.URL+"/doc")
			case "InvalidatePrefix":
				_, err = tr.InvalidatePrefix(context.Background(), origin.URL+"/doc")
			case "Clear":
				err = tr.Clear(context.Background())
			}
			t.Logf("%s during the outage: err=%v", how, err)
			check := []string{"/doc"}
			if how == "InvalidatePrefix" || how == "Clear" {
				check = paths
			}
			for _, p := range check {
				for _, u := range users {
					resp, body := doRequest(t, tr, "GET", origin.URL+p, "Authorization", u, "Accept-Language", "en")
					want := fmt.Sprintf("%s|v1|en|%s", p, u)
					if isHit(resp) || body != want {
						t.Errorf("after %s (err %v) during the outage, %s user %q: %q hit=%v, want %q from the origin",
							how, err, p, u, body, isHit(resp), want)
					}
				}
			}
		})
	}
}
