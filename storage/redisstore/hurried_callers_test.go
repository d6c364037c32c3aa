package redisstore_test

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c650553b/httpcache/storage/redisstore"
	"github.com/redis/go-redis/v9"
)

// slowRedis returns the address of a proxy to the test Redis that
// delays each of Redis's answers by *delay (read at each answer): a
// healthy Redis, farther away or busier. It stops when the test ends.
func slowRedis(t *testing.T, delay *atomic.Int64) string {
	t.Helper()
	target := testRedis(t).Options().Addr
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			r, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			open = append(open, c, r)
			mu.Unlock()
			conns.Add(2)
			go func() { defer conns.Done(); io.Copy(r, c); r.Close() }()
			go func() {
				defer conns.Done()
				defer c.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := r.Read(buf)
					if n > 0 {
						time.Sleep(time.Duration(delay.Load()))
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		conns.Wait()
	})
	return l.Addr().String()
}

// TestHurriedCallersDoNotStopAHealthyRedis: Redis answers every
// command, in 350ms, within the store's timeout (1.2s, which leaves room
// for a new connection's handshake round trips). Three callers whose own
// deadlines (320ms) are shorter than Redis's answer,
// but at least a quarter of the store's timeout, give up on it; that is
// their hurry, not an outage: a patient caller (10s) is then served. When
// the callers' ends counted as timeouts (a quarter of the store's timeout
// sufficed), the patient caller was refused with ErrUnavailable for
// WithRetryWait, though Redis would answer it; the store now asks Redis
// itself (a PING with its own timeout), which answers.
func TestHurriedCallersDoNotStopAHealthyRedis(t *testing.T) {
	var delay atomic.Int64
	client := redis.NewClient(&redis.Options{Addr: slowRedis(t, &delay), MaxRetries: -1, ContextTimeoutEnabled: true, DisableIdentity: true})
	defer client.Close()
	s := redisstore.New(client, redisstore.WithTimeout(1200*time.Millisecond), redisstore.WithRetryWait(time.Hour))
	get := func(d time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		_, err := s.Get(ctx, "https://a.example/hurried")
		return err
	}
	if err := get(10 * time.Second); err != nil { // a connection in the pool
		t.Fatalf("warm-up Get: %v", err)
	}
	delay.Store(int64(350 * time.Millisecond))
	if err := get(10 * time.Second); err != nil {
		t.Fatalf("a patient Get on the slow but healthy Redis: %v", err)
	}
	for i := range 3 {
		if err := get(320 * time.Millisecond); err == nil {
			t.Fatalf("hurried Get %d answered within 320ms; the proxy does not delay", i)
		}
	}
	if err := get(10 * time.Second); err != nil {
		t.Fatalf("after three callers in a hurry gave up on a Redis that answers in 350ms (store timeout 1.2s), a patient Get = %v: the store took a healthy Redis to be down", err)
	}
}
