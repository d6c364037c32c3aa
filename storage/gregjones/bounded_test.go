package gregjones_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"github.com/c650553b/httpcache/storage/gregjones"
	ghttpcache "github.com/gregjones/httpcache"
)

// stuckCache is a backend that stops answering until released, as a
// gregjones redis or memcache backend does on a server that accepts
// connections and never replies.
type stuckCache struct{ release chan struct{} }

func (c stuckCache) Get(string) ([]byte, bool) { <-c.release; return nil, false }
func (c stuckCache) Set(string, []byte)        { <-c.release }
func (c stuckCache) Delete(string)             { <-c.release }

var _ ghttpcache.Cache = stuckCache{}

// TestStuckBackendDelaysByTheStorageTimeout: a backend that stops
// answering delays a request by the Transport's storage timeout, after
// which the request goes to the network; the adapter ignored its context,
// and the request waited for the backend without end (found by a probe).
func TestStuckBackendDelaysByTheStorageTimeout(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "from the origin")
	}))
	defer origin.Close()
	backend := stuckCache{release: make(chan struct{})}
	defer close(backend.release) // the left operations end; goleak checks
	tr := httpcache.New(httpcache.WithTransport(origin.Client().Transport), httpcache.WithStorage(gregjones.New(backend)),
		httpcache.WithStorageTimeout(20*time.Millisecond), httpcache.WithCloseTimeout(20*time.Millisecond))
	defer tr.Close()
	answered := make(chan string, 1)
	req, err := http.NewRequest("GET", origin.URL+"/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		resp, err := tr.RoundTrip(req)
		if err != nil {
			answered <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answered <- string(body)
	}()
	select {
	case got := <-answered:
		if got != "from the origin" {
			t.Fatalf("got %q", got)
		}
	case <-time.After(10 * time.Second): // a hang, not a measure of speed
		t.Fatal("the request still waits on a stuck backend, with a 20ms storage timeout")
	}
}

// TestStuckBackendLeavesBoundedOperations: operations left running on a
// stuck backend are bounded: past the bound, operations fail at once with
// ErrBackendStuck, holding no more goroutines; once the backend answers,
// operations run again.
func TestStuckBackendLeavesBoundedOperations(t *testing.T) {
	backend := stuckCache{release: make(chan struct{})}
	s := gregjones.New(backend)
	expired := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		_, err := s.Get(ctx, "https://a.example/k")
		return err
	}
	stuck := 0
	for ; stuck < 1000; stuck++ {
		if err := expired(); errors.Is(err, gregjones.ErrBackendStuck) {
			break
		} else if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Get on a stuck backend: %v", err)
		}
	}
	if stuck == 0 || stuck >= 1000 {
		t.Fatalf("%d operations left running before ErrBackendStuck; want a bound", stuck)
	}
	close(backend.release)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := s.Get(ctx, "https://a.example/k")
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the backend answered again, Get = %v", err)
		}
		time.Sleep(time.Millisecond) // the left operations end, in their own time
	}
}
