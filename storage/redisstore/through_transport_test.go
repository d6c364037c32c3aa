package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/redisstore"
	"github.com/redis/go-redis/v9"
)

// versionedOrigin answers every GET with a body naming its path, its query and
// a version, fresh for an hour, varying on what vary names.
func versionedOrigin(t *testing.T, version *atomic.Int64, requests *atomic.Int64, vary string) *httptest.Server {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			version.Add(1)
			w.WriteHeader(204)
			return
		}
		w.Header().Set("Cache-Control", "max-age=3600")
		if vary != "" {
			w.Header().Set("Vary", vary)
		}
		fmt.Fprintf(w, "%s|v%d|%s|%s", r.URL.RequestURI(), version.Load(), r.Header.Get("Accept-Language"), r.Header.Get("Authorization"))
	}))
	t.Cleanup(o.Close)
	return o
}

func doRequest(t *testing.T, tr http.RoundTripper, method, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	return resp, string(b)
}

// Every hostile or corrupted value of an entry's hash is a miss: the
// request goes to the origin and gets the origin's bytes.
func TestCorruptValuesThroughTransport(t *testing.T) {
	admin := testRedis(t)
	prefix := testPrefix(t, admin)
	var version, requests atomic.Int64
	origin := versionedOrigin(t, &version, &requests, "")
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	store := newStore(admin, redisstore.WithPrefix(prefix))
	ctx := context.Background()
	url := origin.URL + "/doc"
	mutations := map[string]func(v string) string{
		"truncated by 1":      func(v string) string { return v[:len(v)-1] },
		"truncated to prefix": func(v string) string { return v[:16] },
		"truncated mid-meta":  func(v string) string { return v[:24] },
		"body byte flipped": func(v string) string {
			b := []byte(v)
			b[len(b)-6] ^= 0x20
			return string(b)
		},
		"meta byte flipped": func(v string) string {
			b := []byte(v)
			b[16+10] ^= 0x01
			return string(b)
		},
		"extra byte": func(v string) string { return v + "x" },
		"empty":      func(v string) string { return "" },
		"garbage":    func(v string) string { return v[:16] + strings.Repeat("\xff", 200) },
	}
	for name, mutate := range mutations {
		t.Run(name, func(t *testing.T) {
			tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithStorage(store))
			doRequest(t, tr, "GET", url)
			tr.Close()
			// find the entry key by scanning: one hash under the prefix
			var hashKey string
			for iter := admin.Scan(ctx, 0, prefix+"*", 100).Iterator(); iter.Next(ctx); {
				if admin.Type(ctx, iter.Val()).Val() == "hash" {
					hashKey = iter.Val()
				}
			}
			if hashKey == "" {
				t.Fatal("nothing stored")
			}
			fields := admin.HGetAll(ctx, hashKey).Val()
			for f, v := range fields {
				admin.HSet(ctx, hashKey, f, mutate(v))
			}
			tr2 := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithStorage(store))
			defer tr2.Close()
			resp, body := doRequest(t, tr2, "GET", url)
			want := fmt.Sprintf("/doc|v%d||", version.Load())
			if body != want || isHit(resp) || resp.StatusCode != 200 {
				t.Fatalf("%s: got %d %q (%s), want the origin's %q", name, resp.StatusCode, body, resp.Header.Get("Cache-Status"), want)
			}
			admin.Del(ctx, hashKey)
		})
	}
}

// A caller whose own deadline has passed says nothing about Redis: three
// such callers must not make the store fail fast for every other caller.
func TestCallerDeadlineIsNotAnOutage(t *testing.T) {
	client := testRedis(t)
	s := redisstore.New(client, redisstore.WithPrefix(testPrefix(t, client)), redisstore.WithRetryWait(time.Hour))
	for range 3 {
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		s.Get(ctx, "k")
		cancel()
	}
	if _, err := s.Get(context.Background(), "other"); err != nil {
		t.Fatalf("after three callers whose own deadlines had passed, Get of another key = %v: caching stops for everyone", err)
	}
}

// A Redis killed and restarted under concurrent traffic through a
// TieredStorage: no request fails, every body is the origin's for that
// request, and caching resumes.
func TestRestartMidTrafficTiered(t *testing.T) {
	port := freePort(t)
	server := startRedis(t, port)
	var version, requests atomic.Int64
	origin := versionedOrigin(t, &version, &requests, "Accept-Language")
	client := redis.NewClient(&redis.Options{Addr: server.addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
	defer client.Close()
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	store := redisstore.New(client, redisstore.WithTimeout(100*time.Millisecond), redisstore.WithRetryWait(100*time.Millisecond))
	tiered, err := httpcache.NewTieredStorage(httpcache.NewMemoryStorage(1<<20), store, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithStorage(tiered))
	var stop atomic.Bool
	var wg sync.WaitGroup
	var failures atomic.Int64
	var firstFailure atomic.Value
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				path := fmt.Sprintf("/r%d", (i+g)%20)
				lang := []string{"en", "fr"}[i%2]
				user := []string{"", "Bearer u1", "Bearer u2"}[(i/2)%3]
				req, _ := http.NewRequest("GET", origin.URL+path, nil)
				req.Header.Set("Accept-Language", lang)
				if user != "" {
					req.Header.Set("Authorization", user)
				}
				resp, err := tr.RoundTrip(req)
				if err != nil {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := fmt.Sprintf("%s|v0|%s|%s", path, lang, user)
				if err != nil || string(b) != want {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("got %q (%v), want %q", b, err, want))
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond) // traffic runs (not a freshness wait)
	server.stop()
	time.Sleep(300 * time.Millisecond)
	startRedis(t, port) // the same port: the client reconnects; stopped when the test ends
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	tr.Close()
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d failures; first: %v", n, firstFailure.Load())
	}
}

// Secrets at rest through a TieredStorage over Redis, with Vary naming
// the credential fields, credentials under non-canonical map keys, shared
// mode with public responses, and HEAD.
func TestNoCredentialInRedisTiered(t *testing.T) {
	admin := testRedis(t)
	prefix := testPrefix(t, admin)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Vary", "cookie, AUTHORIZATION, x-api-key, Accept-Language")
		io.WriteString(w, "profile")
	}))
	defer origin.Close()
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	for _, shared := range []bool{false, true} {
		store := newStore(admin, redisstore.WithPrefix(prefix))
		tiered, _ := httpcache.NewTieredStorage(httpcache.NewMemoryStorage(1<<20), store, time.Minute)
		tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithStorage(tiered), httpcache.WithShared(shared))
		i := 0
		for _, canonical := range []bool{true, false} {
			for name, value := range map[string]string{"Authorization": "Bearer SECRETa", "Cookie": "session=SECRETb", "X-Api-Key": "SECRETc", "Proxy-Authorization": "Basic SECRETd"} {
				for _, method := range []string{"GET", "HEAD", "GET"} {
					i++
					req, _ := http.NewRequest(method, fmt.Sprintf("%s/p%d", origin.URL, i/3), nil)
					if canonical {
						req.Header.Set(name, value)
					} else {
						req.Header[strings.ToLower(name)] = []string{value}
					}
					req.Header.Set("Accept-Language", "en")
					resp, err := tr.RoundTrip(req)
					if err != nil {
						t.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}
		tr.Close()
	}
	ctx := context.Background()
	keys := 0
	for iter := admin.Scan(ctx, 0, prefix+"*", 1000).Iterator(); iter.Next(ctx); {
		key := iter.Val()
		keys++
		content := []string{key}
		switch kind := admin.Type(ctx, key).Val(); kind {
		case "hash":
			for f, v := range admin.HGetAll(ctx, key).Val() {
				content = append(content, f, v)
			}
		case "set":
			content = append(content, admin.SMembers(ctx, key).Val()...)
		case "zset":
			content = append(content, admin.ZRange(ctx, key, 0, -1).Val()...)
		default:
			content = append(content, admin.Dump(ctx, key).Val())
		}
		for _, s := range content {
			if strings.Contains(s, "SECRET") {
				t.Errorf("Redis key %q holds a credential: %q", key, s)
			}
		}
	}
	if keys == 0 {
		t.Fatal("nothing stored")
	}
}

// Invalidation across partitions and variants through TieredStorage over
// Redis: a POST on one instance, and Invalidate, remove every partition's
// and variant's entry in that instance at once, and from Redis (another
// instance with a fresh memory tier misses too).
func TestInvalidationAcrossPartitionsAndVariantsTiered(t *testing.T) {
	admin := testRedis(t)
	prefix := testPrefix(t, admin)
	var version, requests atomic.Int64
	origin := versionedOrigin(t, &version, &requests, "Accept-Language")
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	secret := []byte("0123456789abcdef0123456789abcdef")
	newInstance := func() *httpcache.Transport {
		store := newStore(admin, redisstore.WithPrefix(prefix))
		tiered, _ := httpcache.NewTieredStorage(httpcache.NewMemoryStorage(1<<20), store, time.Hour)
		return httpcache.New(httpcache.WithTransport(upstream), httpcache.WithStorage(tiered), httpcache.WithPartitionSecret(secret))
	}
	a := newInstance()
	defer a.Close()
	users := []string{"", "Bearer u1", "Bearer u2"}
	langs := []string{"en", "fr"}
	fill := func(tr *httpcache.Transport, path string) {
		for _, u := range users {
			for _, l := range langs {
				doRequest(t, tr, "GET", origin.URL+path, "Authorization", u, "Accept-Language", l)
			}
		}
	}
	check := func(tr *httpcache.Transport, path, when string, wantHit bool) {
		t.Helper()
		for _, u := range users {
			for _, l := range langs {
				resp, body := doRequest(t, tr, "GET", origin.URL+path, "Authorization", u, "Accept-Language", l)
				want := fmt.Sprintf("%s|v%d|%s|%s", path, version.Load(), l, u)
				if isHit(resp) != wantHit || body != want {
					t.Errorf("%s: user %q lang %s: %q hit=%v, want %q hit=%v", when, u, l, body, isHit(resp), want, wantHit)
				}
			}
		}
	}
	for _, how := range []string{"POST", "PUT", "DELETE", "Invalidate"} {
		path := "/inv-" + how
		fill(a, path)
		a.Close() // written to Redis
		check(a, path, how+" before", true)
		switch how {
		case "Invalidate":
			version.Add(1)
			if err := a.Invalidate(context.Background(), origin.URL+path); err != nil {
				t.Fatal(err)
			}
		default:
			doRequest(t, a, how, origin.URL+path, "Authorization", "Bearer u1")
		}
		check(a, path, how+" after, same instance", false)
		b := newInstance()
		fill(a, path)
		a.Close()
		version.Add(1)
		doRequest(t, a, "POST", origin.URL+path)
		check(b, path, how+" after, other instance", false)
		b.Close()
	}
}

var _ = errors.New

// Through the Transport: three requests whose callers' deadlines have
// already passed (they fail, as they must) stop caching for every other
// request for the retry wait.
func TestExpiredCallersStopCachingForAll(t *testing.T) {
	admin := testRedis(t)
	prefix := testPrefix(t, admin)
	var version, requests atomic.Int64
	origin := versionedOrigin(t, &version, &requests, "")
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	store := redisstore.New(admin, redisstore.WithPrefix(prefix), redisstore.WithRetryWait(time.Hour))
	tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithStorage(store), httpcache.WithSynchronousWrites(true))
	defer tr.Close()
	for range 3 {
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Millisecond))
		req, _ := http.NewRequestWithContext(ctx, "GET", origin.URL+"/expired", nil)
		if resp, err := tr.RoundTrip(req); err == nil {
			resp.Body.Close()
		}
		cancel()
	}
	doRequest(t, tr, "GET", origin.URL+"/other")
	if resp, _ := doRequest(t, tr, "GET", origin.URL+"/other"); !isHit(resp) {
		t.Fatalf("after three callers whose deadlines had passed, another URL is not cached (%s): the store took them for a Redis outage",
			resp.Header.Get("Cache-Status"))
	}
}
