package gregjones_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/gregjones"
	ghttpcache "github.com/gregjones/httpcache"
)

// credentialScanCache is a gregjones Cache that keeps every byte written to it.
type credentialScanCache struct {
	mu    sync.Mutex
	items map[string][]byte
}

func (c *credentialScanCache) Get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.items[key]
	return v, ok
}

func (c *credentialScanCache) Set(key string, value []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items[key] = append([]byte(nil), value...)
}

func (c *credentialScanCache) Delete(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.items, key)
}

var _ ghttpcache.Cache = (*credentialScanCache)(nil)

// No credential value, from the credential fields, a Vary naming them
// (any case), or the query, lands in the backend; also through a
// TieredStorage, shared mode and HEAD.
func TestNoCredentialInBackend(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Vary", "COOKIE, authorization, X-API-KEY, Accept-Language")
		io.WriteString(w, "profile")
	}))
	defer origin.Close()
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	backend := &credentialScanCache{items: map[string][]byte{}}
	for _, tiered := range []bool{false, true} {
		for _, shared := range []bool{false, true} {
			var storage httpcache.Storage = gregjones.New(backend)
			if tiered {
				storage, _ = httpcache.NewTieredStorage(httpcache.NewMemoryStorage(1<<20), storage, time.Minute)
			}
			tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithStorage(storage), httpcache.WithShared(shared))
			i := 0
			for _, canonical := range []bool{true, false} {
				for name, value := range map[string]string{"Authorization": "Bearer SECRETa", "Cookie": "session=SECRETb", "X-Api-Key": "SECRETc"} {
					for _, method := range []string{"GET", "HEAD"} {
						i++
						req, _ := http.NewRequest(method, fmt.Sprintf("%s/p%d", origin.URL, i/2), nil)
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
			for _, target := range []string{"/q?access_token=SECRETd", "/q2?page=1&api_key=SECRETe"} {
				req, _ := http.NewRequest("GET", origin.URL+target, nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			tr.Close()
		}
	}
	backend.mu.Lock()
	defer backend.mu.Unlock()
	if len(backend.items) < 3 {
		t.Fatalf("%d values stored", len(backend.items))
	}
	for k, v := range backend.items {
		if strings.Contains(k, "SECRET") || strings.Contains(string(v), "SECRET") {
			t.Errorf("backend key %q holds a credential", k)
		}
	}
}
