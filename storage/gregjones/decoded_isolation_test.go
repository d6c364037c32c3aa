package gregjones_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/gregjones"
	ghttpcache "github.com/gregjones/httpcache"
)

func Body(t *testing.T, e *httpcache.Entry) string {
	t.Helper()
	r, err := e.Body.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	return string(b)
}

// TestKeptValueCopiedToAnotherPartition: alice's value, kept
// decoded, copied to bob's backend name is a miss for bob.
func TestKeptValueCopiedToAnotherPartition(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		t.Run(fmt.Sprint("encrypted=", encrypted), func(t *testing.T) {
			backend := ghttpcache.NewMemoryCache()
			var opts []gregjones.Option
			if encrypted {
				keys, _ := httpcache.NewKeyring(httpcache.NewKey())
				opts = append(opts, gregjones.WithKeyring(keys))
			}
			store := gregjones.New(backend, opts...)
			ctx := context.Background()
			alice, bob := "https://h/me\x00"+strings.Repeat("a", 64), "https://h/me\x00"+strings.Repeat("b", 64)
			at := time.Now()
			for _, k := range []string{alice, bob} {
				e := &httpcache.Entry{StatusCode: 200, Header: http.Header{"Cache-Control": {"max-age=60"}},
					RequestTime: at, ResponseTime: at, Body: httpcache.BytesBody("for " + k[len(k)-1:])}
				if err := store.Set(ctx, k, e, time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 {
				got, _ := store.Get(ctx, alice)
				if len(got) != 1 || Body(t, got[0]) != "for a" {
					t.Fatal("alice")
				}
			}
			// Copy every backend value under alice's names to bob's (in clear
			// the names are EntryKey; encrypted, copy raw by trying both).
			if !encrypted {
				v, ok := backend.Get(gregjones.EntryKey(alice))
				if !ok {
					t.Fatal("no value")
				}
				backend.Set(gregjones.EntryKey(bob), v)
				for range 2 {
					if got, _ := store.Get(ctx, bob); len(got) != 0 {
						t.Fatalf("bob got %q", Body(t, got[0]))
					}
				}
			}
			if got, _ := store.Get(ctx, alice); len(got) != 1 || Body(t, got[0]) != "for a" {
				t.Fatal("alice after")
			}
		})
	}
}

// TestGregjonesStress: two Storages on one backend (two
// processes), goroutines writing, reading and deleting the same and other
// keys of several partitions: every entry returned is its key's, whole.
func TestGregjonesStress(t *testing.T) {
	backend := ghttpcache.NewMemoryCache()
	stores := []*gregjones.Storage{gregjones.New(backend), gregjones.New(backend)}
	ctx := context.Background()
	var keys []string
	for u := range 3 {
		for _, p := range []string{"", "\x00" + strings.Repeat("a", 64), "\x00" + strings.Repeat("b", 64)} {
			keys = append(keys, "https://h/k"+strconv.Itoa(u)+p)
		}
	}
	var version atomic.Int64
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			for time.Now().Before(deadline) {
				s := stores[rng.IntN(2)]
				key := keys[rng.IntN(len(keys))]
				switch op := rng.IntN(10); {
				case op < 2:
					v := version.Add(1)
					n := []int{0, 100, 5000, 70000}[rng.IntN(4)]
					variant := []string{"", "gzip"}[rng.IntN(2)]
					body := key + "|" + strconv.FormatInt(v, 10) + "|" + strings.Repeat("x", n)
					e := &httpcache.Entry{Variant: variant, StatusCode: 200, Header: http.Header{"X-Key": {key}, "X-Len": {strconv.Itoa(len(body))}},
						RequestTime: time.Now(), ResponseTime: time.Now(), Body: httpcache.BytesBody(body)}
					if err := s.Set(ctx, key, e, time.Minute); err != nil {
						t.Error(err)
						return
					}
				case op == 2:
					s.Delete(ctx, key)
				default:
					got, err := s.Get(ctx, key)
					if err != nil {
						t.Error(err)
						return
					}
					for _, e := range got {
						b := Body(t, e)
						if e.Header.Get("X-Key") != key || !strings.HasPrefix(b, key+"|") || strconv.Itoa(len(b)) != e.Header.Get("X-Len") {
							t.Errorf("Get(%q): X-Key %q, body %.40q (%d bytes, X-Len %s)", key, e.Header.Get("X-Key"), b, len(b), e.Header.Get("X-Len"))
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
}
