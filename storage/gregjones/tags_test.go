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
	ghttpcache "github.com/gregjones/httpcache"
	"github.com/gregjones/httpcache/diskcache"
)

// InvalidateTag through the adapter removes every response with the tag,
// in every partition, on the backends gregjones/httpcache users have.
func TestInvalidateTag(t *testing.T) {
	backends := map[string]func(t *testing.T) ghttpcache.Cache{
		"memory": func(*testing.T) ghttpcache.Cache { return ghttpcache.NewMemoryCache() },
		"disk":   func(t *testing.T) ghttpcache.Cache { return diskcache.New(t.TempDir()) },
	}
	for name, backend := range backends {
		t.Run(name, func(t *testing.T) {
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=600")
				w.Header().Set("Surrogate-Key", r.URL.Query().Get("k"))
				io.WriteString(w, r.URL.Path+" for "+r.Header.Get("Authorization"))
			}))
			defer origin.Close()
			upstream := &http.Transport{}
			defer upstream.CloseIdleConnections()
			tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithSynchronousWrites(true),
				httpcache.WithStorage(gregjones.New(backend(t))))
			defer tr.Close()
			hit := func(path, user string) bool {
				req, _ := http.NewRequest(http.MethodGet, origin.URL+path, nil)
				if user != "" {
					req.Header.Set("Authorization", user)
				}
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				st, _ := httpcache.StatusOf(resp)
				return st.Hit
			}
			tagged, other := "/a?k=product-1+list", "/b?k=product-2"
			for _, user := range []string{"", "alice", "bob"} {
				hit(tagged, user)
			}
			hit(other, "")
			n, err := tr.InvalidateTag(context.Background(), "product-1")
			if err != nil || n != 3 {
				t.Fatalf("InvalidateTag removed %d, %v; want 3", n, err)
			}
			for _, user := range []string{"", "alice", "bob"} {
				if hit(tagged, user) {
					t.Fatalf("user %q: a purged response is served", user)
				}
			}
			if !hit(other, "") {
				t.Fatal("a response without the tag was purged")
			}
		})
	}
}

// A tag's index is bounded: past it, a response with the tag is not
// stored (a cache may forget), and those stored stay listed.
func TestFullTagIndexStoresNoMore(t *testing.T) {
	defer gregjones.SetIndexLimits(3, time.Hour)()
	s := gregjones.New(ghttpcache.NewMemoryCache())
	ctx := context.Background()
	entry := func() *httpcache.Entry {
		return &httpcache.Entry{StatusCode: 200, Header: http.Header{}, Body: httpcache.BytesBody("x"), Tags: []string{"hot"}}
	}
	for i := range 4 {
		s.Set(ctx, fmt.Sprintf("https://a.example/%d", i), entry(), time.Hour)
	}
	if got, _ := s.Get(ctx, "https://a.example/3"); len(got) != 0 {
		t.Fatal("stored past a full tag index")
	}
	var listed []string
	s.KeysTagged(ctx, "hot", func(key string) bool { listed = append(listed, key); return true })
	if len(listed) != 3 {
		t.Fatalf("listed %q", listed)
	}
	for _, key := range listed {
		if got, _ := s.Get(ctx, key); len(got) != 1 {
			t.Fatalf("%s: a listed entry is gone", key)
		}
	}
}
