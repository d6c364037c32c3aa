package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
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
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testRedis returns a client of the Redis at HTTPCACHE_TEST_REDIS, or skips
// the test when it is not set.
func testRedis(t testing.TB) *redis.Client {
	t.Helper()
	addr := os.Getenv("HTTPCACHE_TEST_REDIS")
	if addr == "" {
		t.Skip("no Redis: set HTTPCACHE_TEST_REDIS=host:port (for example 127.0.0.1:6379, after " +
			`redis-server --daemonize yes --port 6379 --save "" --appendonly no) to run the Redis tests; .ci/run does`)
	}
	client := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { client.Close() })
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("HTTPCACHE_TEST_REDIS=%s is set, but Redis does not answer: %v", addr, err)
	}
	return client
}

// testTimeout is the timeout of the tests' stores: on a loaded machine (CI
// runs the race detector on every module at once) an operation can outlive
// DefaultTimeout, and a write dropped for it makes a test's later hit a
// miss. Tests of timeouts set their own.
const testTimeout = 10 * time.Second

// newStore is redisstore.New with testTimeout; opts, later, override it.
func newStore(client redis.UniversalClient, opts ...redisstore.Option) *redisstore.Store {
	return redisstore.New(client, append([]redisstore.Option{redisstore.WithTimeout(testTimeout)}, opts...)...)
}

// testPrefix returns a key prefix of the test's own, and removes its keys
// when the test ends.
func testPrefix(t testing.TB, client *redis.Client) string {
	prefix := fmt.Sprintf("httpcache-test:%x:", rand.Uint64())
	t.Cleanup(func() {
		ctx := context.Background()
		iter := client.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
	})
	return prefix
}

func TestAcceptance(t *testing.T) {
	client := testRedis(t)
	storagetest.Run(t, func(t *testing.T, maxBytes int64) httpcache.Storage {
		if maxBytes != 0 {
			return nil // bounded by expiry, not by bytes
		}
		return newStore(client, redisstore.WithPrefix(testPrefix(t, client)))
	})
}

func TestEntriesExpireInRedis(t *testing.T) {
	client := testRedis(t)
	prefix := testPrefix(t, client)
	s := newStore(client, redisstore.WithPrefix(prefix), redisstore.WithMaxTTL(time.Hour))
	ctx := context.Background()
	s.Set(ctx, "a", storagetest.NewEntry("v1", "a1", 10), 10*time.Second)
	s.Set(ctx, "a", storagetest.NewEntry("v2", "a2", 10), 30*time.Second)
	s.Set(ctx, "a", storagetest.NewEntry("v3", "a3", 10), 5*time.Second) // does not shorten the key
	s.Set(ctx, "none", storagetest.NewEntry("", "n", 10), 0)
	if ttl := client.PTTL(ctx, s.EntryKey("a")).Val(); ttl <= 25*time.Second || ttl > 30*time.Second {
		t.Fatalf("key TTL %v, want the longest variant's 30s", ttl)
	}
	if ttl := client.PTTL(ctx, s.EntryKey("none")).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("key without a TTL hint lives %v, want the maximum TTL of 1h", ttl)
	}
}

func TestCorruptValuesAreSkipped(t *testing.T) {
	client := testRedis(t)
	prefix := testPrefix(t, client)
	s := newStore(client, redisstore.WithPrefix(prefix))
	ctx := context.Background()
	s.Set(ctx, "k", storagetest.NewEntry("good", "g", 100), time.Hour)
	client.HSet(ctx, s.EntryKey("k"), "bad", "\x00\x00\x01\x00\x00\x00\x00\x00garbage", "short", "x")
	entries, err := s.Get(ctx, "k")
	if err != nil || len(entries) != 1 || entries[0].Variant != "good" {
		t.Fatalf("got %d entries, %v; want the one good variant", len(entries), err)
	}
}

// TestTransportsShareEntries stands for two service instances on one Redis:
// what the first stores, the second is served from.
func TestTransportsShareEntries(t *testing.T) {
	client := testRedis(t)
	prefix := testPrefix(t, client)
	var originRequests atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		originRequests.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "shared")
	}))
	defer origin.Close()
	for i, wantHit := range []bool{false, true} {
		instance := redis.NewClient(&redis.Options{Addr: os.Getenv("HTTPCACHE_TEST_REDIS")})
		upstream := &http.Transport{}
		tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithStorage(newStore(instance, redisstore.WithPrefix(prefix))))
		resp, body := get(t, &http.Client{Transport: tr}, origin.URL+"/rates")
		tr.Close() // waits for the entry to be written
		upstream.CloseIdleConnections()
		instance.Close()
		if st, _ := httpcache.StatusOf(resp); body != "shared" || st.Hit != wantHit {
			t.Fatalf("instance %d: %q, Cache-Status %q", i, body, resp.Header.Get("Cache-Status"))
		}
	}
	if n := originRequests.Load(); n != 1 {
		t.Fatalf("origin requests = %d, want 1", n)
	}
}

func get(t *testing.T, client *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// ownRedis runs a redis-server of the test's own on port, until stop.
type ownRedis struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startRedis(t *testing.T, port int) *ownRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed; .ci/run installs it")
	}
	r := &ownRedis{t: t, port: port}
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	client := redis.NewClient(&redis.Options{Addr: r.addr()})
	defer client.Close()
	for deadline := time.Now().Add(5 * time.Second); client.Ping(context.Background()).Err() != nil; {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r
}

func (r *ownRedis) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *ownRedis) stop() {
	if r.cmd.ProcessState == nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
	}
}

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestOutage stops the test's own Redis under a running Transport, then
// starts it again: no request fails, the log is not flooded, and caching
// resumes.
func TestOutage(t *testing.T) {
	port := freePort(t)
	server := startRedis(t, port)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "ok")
	}))
	defer origin.Close()
	client := redis.NewClient(&redis.Options{Addr: server.addr(), MaxRetries: -1})
	defer client.Close()
	var logs lockedBuffer
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	tr := httpcache.New(httpcache.WithTransport(upstream),
		httpcache.WithStorage(redisstore.New(client, redisstore.WithTimeout(100*time.Millisecond), redisstore.WithRetryWait(200*time.Millisecond))),
		httpcache.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	defer tr.Close()
	httpClient := &http.Client{Transport: tr}

	get(t, httpClient, origin.URL+"/warm")
	tr.Close() // the entry is written
	if resp, _ := get(t, httpClient, origin.URL+"/warm"); !isHit(resp) {
		t.Fatal("not cached while Redis is up")
	}

	server.stop()
	for i := range 300 {
		start := time.Now()
		resp, body := get(t, httpClient, origin.URL+"/during/"+strconv.Itoa(i%5))
		if resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d during the outage: %d %q", i, resp.StatusCode, body)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("request %d took %v during the outage", i, d)
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n > 20 {
		t.Fatalf("%d warnings logged for 300 requests during the outage: the log is flooded", n)
	} else if n == 0 {
		t.Fatal("the outage was not logged")
	}

	startRedis(t, port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		get(t, httpClient, origin.URL+"/after")
		tr.Close()
		if resp, _ := get(t, httpClient, origin.URL+"/after"); isHit(resp) {
			break // caching resumed
		}
		if time.Now().After(deadline) {
			t.Fatal("caching did not resume after Redis came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func isHit(resp *http.Response) bool {
	st, _ := httpcache.StatusOf(resp)
	return st.Hit
}

// TestSilentRedisIsBoundedByTheTimeout: a Redis that accepts connections
// and never answers delays a request by the timeout at most.
func TestSilentRedisIsBoundedByTheTimeout(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: silentRedis(t), MaxRetries: -1})
	defer client.Close()
	s := redisstore.New(client, redisstore.WithTimeout(50*time.Millisecond))
	start := time.Now()
	if _, err := s.Get(context.Background(), "k"); err == nil {
		t.Fatal("a silent Redis answered")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Get took %v with a 50ms timeout", d)
	}
	// Three timeouts in a row are an outage: the next Get fails fast.
	for range 2 {
		if _, err := s.Get(context.Background(), "k"); err == nil || errors.Is(err, redisstore.ErrUnavailable) {
			t.Fatalf("after fewer timeouts than an outage takes, Get = %v, want another timeout", err)
		}
	}
	start = time.Now()
	if _, err := s.Get(context.Background(), "k"); !errors.Is(err, redisstore.ErrUnavailable) || time.Since(start) > 40*time.Millisecond {
		t.Fatalf("after three timeouts in a row, Get = %v in %v, want a fast ErrUnavailable", err, time.Since(start))
	}
}

// TestCallersShortDeadlinesAreNotAnOutage: operations that end at their
// callers' own deadlines, shorter than the store's timeout, say nothing
// about Redis, which might have answered within the timeout: however many
// there are, the store does not stop for every other caller.
func TestCallersShortDeadlinesAreNotAnOutage(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: silentRedis(t), MaxRetries: -1})
	defer client.Close()
	s := redisstore.New(client, redisstore.WithTimeout(time.Minute), redisstore.WithRetryWait(time.Hour))
	short := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		_, err := s.Get(ctx, "k")
		return err
	}
	for range 5 {
		if err := short(); err == nil {
			t.Fatal("a silent Redis answered")
		}
		expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		s.Get(expired, "k") // past its deadline before it starts: Redis is not asked
		cancel()
	}
	if err := short(); errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("after callers' own deadlines ended their operations, Get = %v: the store took them for an outage", err)
	}
}

// silentRedis returns the address of a server that accepts connections
// and never answers; it stops when the test ends.
func silentRedis(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() { defer conns.Done(); io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	t.Cleanup(func() { l.Close(); conns.Wait() })
	return l.Addr().String()
}

func TestBadOptions(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	tests := []struct {
		opt  redisstore.Option
		want string
	}{
		{redisstore.WithTimeout(0), "redisstore: WithTimeout: 0s is not a positive duration"},
		{redisstore.WithRetryWait(-time.Second), "redisstore: WithRetryWait: -1s is not a positive duration"},
		{redisstore.WithMaxTTL(0), "redisstore: WithMaxTTL: 0s is not a positive duration"},
		{redisstore.WithDecodedBytes(-1), "redisstore: WithDecodedBytes: -1 is negative"},
		{nil, "redisstore: nil Option"},
		{redisstore.WithPrefix("cache{}:"), `redisstore: WithPrefix: "cache{}:" holds an empty hash tag {}, which would part a URL's keys across Redis Cluster slots`},
	}
	for _, tt := range tests {
		if _, err := redisstore.NewStore(client, tt.opt); err == nil || err.Error() != tt.want {
			t.Errorf("NewStore error = %v, want %q", err, tt.want)
		}
		if _, err := redisstore.New(client, tt.opt).Get(context.Background(), "k"); err == nil || err.Error() != tt.want {
			t.Errorf("New(...).Get error = %v, want %q", err, tt.want)
		}
	}
	if _, err := redisstore.NewStore(nil); err == nil {
		t.Error("NewStore(nil) did not fail")
	}
}

// TestSlowKeyIsNotAnOutage: an operation that times out among others that
// Redis answers (one slow key: a large value, a slow command) does not
// stop the store for every key, as it once did for the retry wait.
func TestSlowKeyIsNotAnOutage(t *testing.T) {
	client := testRedis(t)
	s := redisstore.New(client, redisstore.WithPrefix(testPrefix(t, client)), redisstore.WithRetryWait(time.Hour))
	for i := range 10 {
		timedOut, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		_, err := s.Get(timedOut, "slow")
		cancel()
		if err == nil {
			t.Fatal("Get past its deadline succeeded")
		}
		if _, err := s.Get(context.Background(), "other"+strconv.Itoa(i)); err != nil {
			t.Fatalf("after one slow key's timeout, Get of another key = %v: the store took it for an outage", err)
		}
	}
}

// TestCallerCancellationIsNotAnOutage: a caller that gives up says nothing
// about Redis, so the store does not stop using it.
func TestCallerCancellationIsNotAnOutage(t *testing.T) {
	client := testRedis(t)
	s := redisstore.New(client, redisstore.WithPrefix(testPrefix(t, client)), redisstore.WithRetryWait(time.Hour))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Get(cancelled, "k"); err == nil {
		t.Fatal("Get on a cancelled context succeeded")
	}
	if _, err := s.Get(context.Background(), "k"); err != nil {
		t.Fatalf("after a caller's cancellation, Get = %v: the store took it for an outage", err)
	}
}

// TestNetworkErrorIsAnOutageAtOnce: a network error that is not a
// timeout (a Redis that closes every connection) says Redis is down at
// once; only timeouts need three in a row
// (TestSilentRedisIsBoundedByTheTimeout). go-redis reports a refused
// connection as a timeout: it dials again until the deadline.
func TestNetworkErrorIsAnOutageAtOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	conns.Add(1)
	go func() {
		defer conns.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	client := redis.NewClient(&redis.Options{Addr: l.Addr().String(), MaxRetries: -1})
	s := redisstore.New(client, redisstore.WithRetryWait(time.Hour))
	_, first := s.Get(context.Background(), "k")
	_, second := s.Get(context.Background(), "k")
	client.Close()
	l.Close()
	conns.Wait()
	if first == nil || errors.Is(first, redisstore.ErrUnavailable) || errors.Is(first, context.DeadlineExceeded) {
		t.Fatalf("first Get = %v, want the closed connection's error", first)
	}
	if !errors.Is(second, redisstore.ErrUnavailable) {
		t.Fatalf("after a network error, Get = %v, want a fast ErrUnavailable", second)
	}
}
