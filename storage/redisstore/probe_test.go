package redisstore_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/c650553b/httpcache/storage/redisstore"
	"github.com/redis/go-redis/v9"
)

// pingAnsweringRedis returns the address of a fake Redis whose PING is
// answered (as a proxy in front of Redis, Envoy's or twemproxy's, answers
// PING itself) while no data command is ever answered: the Redis behind
// it is silent. HELLO gets an error (go-redis falls back to RESP2) and
// CLIENT an OK, so that connections are set up.
func pingAnsweringRedis(t *testing.T) string { return fakeRedis(t, -1) }

// fakeRedis is pingAnsweringRedis whose data commands, when answerAfter
// is not negative, are answered (an empty reply) after answerAfter: a
// healthy Redis, slower than some callers' deadlines.
func fakeRedis(t *testing.T, answerAfter time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go serveFake(c, answerAfter)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return l.Addr().String()
}

func serveFake(c net.Conn, answerAfter time.Duration) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		if len(args) == 0 {
			continue
		}
		switch strings.ToUpper(args[0]) {
		case "PING":
			io.WriteString(c, "+PONG\r\n")
		case "HELLO":
			io.WriteString(c, "-ERR unknown command 'HELLO'\r\n")
		case "CLIENT", "SELECT", "AUTH":
			io.WriteString(c, "+OK\r\n")
		case "GET":
			if answerAfter >= 0 {
				time.Sleep(answerAfter)
				io.WriteString(c, "$-1\r\n") // no such key
			}
		default:
			if answerAfter >= 0 {
				time.Sleep(answerAfter)
				io.WriteString(c, "*0\r\n")
			}
		}
	}
}

func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "*") {
		return strings.Fields(line), nil
	}
	n, _ := strconv.Atoi(line[1:])
	args := make([]string, 0, n)
	for range n {
		hdr, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, _ := strconv.Atoi(strings.TrimRight(hdr, "\r\n")[1:])
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		args = append(args, string(buf[:size]))
	}
	return args, nil
}

// TestSilentBackendBehindPingAnsweringProxy: behind a proxy that
// answers PING itself while the Redis behind it is silent, callers whose
// deadlines are shorter than the store's timeout still find Redis down,
// alone or mixed with patient callers. The probe reads a key: when it sent
// PING, its answer reset the outage count, and every lookup waited out
// its deadline for ever (the patient callers' timeouts never came three
// in a row either). A client without ContextTimeoutEnabled, with a pool
// the operations left running do not exhaust.
func TestSilentBackendBehindPingAnsweringProxy(t *testing.T) {
	get := func(s *redisstore.Store, d time.Duration) error {
		ctx := context.Background()
		if d > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		_, err := s.Get(ctx, "k")
		return err
	}
	t.Run("patient callers alone (baseline)", func(t *testing.T) {
		client := redis.NewClient(&redis.Options{Addr: pingAnsweringRedis(t), MaxRetries: -1, PoolSize: 1000})
		defer client.Close()
		s := redisstore.New(client, redisstore.WithTimeout(100*time.Millisecond), redisstore.WithRetryWait(time.Hour))
		for i := range 4 {
			if err := get(s, 0); errors.Is(err, redisstore.ErrUnavailable) {
				return
			} else if err == nil {
				t.Fatalf("call %d answered", i)
			}
		}
		t.Fatal("three store timeouts in a row did not make the store take Redis down")
	})
	t.Run("hurried callers", func(t *testing.T) {
		client := redis.NewClient(&redis.Options{Addr: pingAnsweringRedis(t), MaxRetries: -1, PoolSize: 1000})
		defer client.Close()
		s := redisstore.New(client, redisstore.WithTimeout(100*time.Millisecond), redisstore.WithRetryWait(time.Hour))
		calls := 0
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); calls++ {
			if err := get(s, 60*time.Millisecond); errors.Is(err, redisstore.ErrUnavailable) {
				return
			}
		}
		t.Errorf("after %d hurried callers over 3s, each waiting out its deadline on a silent Redis, the store still asks it", calls)
	})
	t.Run("hurried and patient callers mixed", func(t *testing.T) {
		client := redis.NewClient(&redis.Options{Addr: pingAnsweringRedis(t), MaxRetries: -1, PoolSize: 1000})
		defer client.Close()
		s := redisstore.New(client, redisstore.WithTimeout(100*time.Millisecond), redisstore.WithRetryWait(time.Hour))
		calls := 0
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); calls++ {
			d := 60 * time.Millisecond
			if calls%2 == 1 {
				d = 0 // the store's own timeout
			}
			if err := get(s, d); errors.Is(err, redisstore.ErrUnavailable) {
				return
			}
		}
		t.Errorf("after %d callers over 3s, half of them patient, the store still asks a silent Redis", calls)
	})
}

// TestHurriedCallersDoNotStopAHealthyRedisWithContextTimeouts: with the client
// the README recommends (ContextTimeoutEnabled: true), go-redis ends a
// read at its caller's deadline with its own "i/o timeout", and may do so
// before the context has ended, the socket's deadline and the context's
// timer firing together: the store must still take it for the caller's
// end (boundByCaller), not Redis's. It took it for Redis's, and three in
// a row took a healthy Redis, answering every command in 150ms within the
// store's 1s timeout, to be down for every caller.
func TestHurriedCallersDoNotStopAHealthyRedisWithContextTimeouts(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: fakeRedis(t, 150*time.Millisecond), MaxRetries: -1, ContextTimeoutEnabled: true})
	defer client.Close()
	s := redisstore.New(client, redisstore.WithTimeout(time.Second), redisstore.WithRetryWait(time.Hour))
	ctx := context.Background()
	if _, err := s.Get(ctx, "k"); err != nil {
		t.Fatalf("a patient Get: %v", err)
	}
	for i := range 40 {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Millisecond)
		_, err := s.Get(ctx, "k")
		cancel()
		if errors.Is(err, redisstore.ErrUnavailable) {
			t.Fatalf("after %d hurried callers (60ms deadlines), a Redis answering in 150ms within the store's 1s timeout is taken to be down", i)
		}
	}
	if _, err := s.Get(context.Background(), "k"); err != nil {
		t.Fatalf("a patient Get after the hurried ones: %v", err)
	}
}
