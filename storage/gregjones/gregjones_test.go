package gregjones_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/gregjones"
	"github.com/c650553b/httpcache/storage/storagetest"
	ghttpcache "github.com/gregjones/httpcache"
	"github.com/gregjones/httpcache/diskcache"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestAcceptanceMemoryCache(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, maxBytes int64) httpcache.Storage {
		if maxBytes != 0 {
			return nil // the backend has no byte bound
		}
		return gregjones.New(ghttpcache.NewMemoryCache())
	})
}

func TestAcceptanceDiskCache(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, maxBytes int64) httpcache.Storage {
		if maxBytes != 0 {
			return nil
		}
		return gregjones.New(diskcache.New(t.TempDir()))
	})
}

func TestDamagedValuesAreMisses(t *testing.T) {
	backend := ghttpcache.NewMemoryCache()
	s := gregjones.New(backend)
	ctx := context.Background()
	s.Set(ctx, "k", storagetest.NewEntry("", "x", 100), time.Hour)
	for _, damaged := range [][]byte{nil, []byte("HCG1"), []byte("HCG1\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff"), []byte("HTTP/1.1 200 OK\r\n\r\n")} {
		backend.Set("httpcache.v1:k", damaged)
		got, err := s.Get(ctx, "k")
		if err != nil || len(got) != 0 {
			t.Fatalf("damaged value %q: %d entries, %v", damaged, len(got), err)
		}
	}
}

// TestSharesABackendWithGregjones runs this cache and gregjones/httpcache on
// one backend: neither reads the other's values.
func TestSharesABackendWithGregjones(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "body")
	}))
	defer origin.Close()
	backend := ghttpcache.NewMemoryCache()
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	old := &ghttpcache.Transport{Cache: backend, Transport: upstream, MarkCachedResponses: true}
	ours := httpcache.New(httpcache.WithStorage(gregjones.New(backend)), httpcache.WithTransport(upstream))
	defer ours.Close()
	for i := range 2 {
		for _, rt := range []http.RoundTripper{old, ours} {
			resp, err := (&http.Client{Transport: rt}).Get(origin.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "body" {
				t.Fatalf("round %d: body %q", i, body)
			}
		}
		ours.Close() // the entry is written before the next round
	}
	resp, err := (&http.Client{Transport: ours}).Get(origin.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st, _ := httpcache.StatusOf(resp); !st.Hit {
		t.Fatalf("not a hit from the shared backend: %q", resp.Header.Get("Cache-Status"))
	}
}

func FuzzDecodeValue(f *testing.F) {
	backend := ghttpcache.NewMemoryCache()
	s := gregjones.New(backend)
	s.Set(context.Background(), "k", storagetest.NewEntry("a", "x", 10), time.Hour)
	s.Set(context.Background(), "k", storagetest.NewEntry("b", "y", 10), 0)
	seed, _ := backend.Get("httpcache.v1:k")
	f.Add(seed)
	f.Add([]byte("HCG1"))
	f.Fuzz(func(t *testing.T, value []byte) {
		backend := ghttpcache.NewMemoryCache()
		backend.Set("httpcache.v1:k", value)
		entries, _ := gregjones.New(backend).Get(context.Background(), "k")
		for _, e := range entries {
			if r, err := e.Body.Open(); err == nil {
				io.Copy(io.Discard, r)
				r.Close()
			}
		}
	})
}
