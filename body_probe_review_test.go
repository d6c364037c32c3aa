package httpcache

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// gatedBody gives nothing until release is closed, then "x" and EOF.
type gatedBody struct {
	release chan struct{}
	reads   atomic.Int64
	closed  atomic.Int64
	once    sync.Once
	gave    bool
}

func newGatedBody() *gatedBody { return &gatedBody{release: make(chan struct{})} }

func (b *gatedBody) Read(p []byte) (int, error) {
	b.reads.Add(1)
	<-b.release
	if b.gave {
		return 0, io.EOF
	}
	b.gave = true
	return copy(p, "x"), nil
}

func (b *gatedBody) Close() error {
	b.closed.Add(1)
	b.once.Do(func() { close(b.release) })
	return nil
}

// A bypass that the cache answers itself (only-if-cached: 504) never
// closes the probed body: the probe goroutine is left reading the caller's
// body after RoundTrip has returned.
func TestProbedBodyIsClosedOnlyIfCached(t *testing.T) {
	before := goleak.IgnoreCurrent()
	tr := New(WithTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.Error("upstream called")
		return nil, errors.New("no")
	})))
	defer tr.Close()
	body := newGatedBody()
	req := must(http.NewRequest(http.MethodGet, "https://api.example/search", body))
	req.Header.Set("Cache-Control", "only-if-cached")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	t.Logf("status %d", resp.StatusCode)
	if body.closed.Load() == 0 {
		t.Errorf("the caller's body was not closed (RoundTripper contract)")
	}
	if err := goleak.Find(before); err != nil {
		t.Errorf("goroutine left after RoundTrip returned: %v", err)
	}
	body.Close()
}

// Found by review, fixed: invalid RequestOptions made RoundTrip return an error after probing, with
// the probe goroutine still reading the caller's body, never closed.
func TestProbedBodyIsClosedOnInvalidOptions(t *testing.T) {
	before := goleak.IgnoreCurrent()
	tr := New(WithTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return nil, errors.New("no")
	})))
	defer tr.Close()
	body := newGatedBody()
	ctx := RequestContext(context.Background(), RequestOptions{TTL: -1})
	req := must(http.NewRequestWithContext(ctx, http.MethodGet, "https://api.example/search", body))
	start := time.Now()
	_, err := tr.RoundTrip(req)
	t.Logf("err %v after %v", err, time.Since(start))
	if body.closed.Load() == 0 {
		t.Errorf("the caller's body was not closed (RoundTripper contract)")
	}
	if err := goleak.Find(before); err != nil {
		t.Errorf("goroutine left after RoundTrip returned: %v", err)
	}
	body.Close()
}

// A body whose Read panics, with an upstream that reads the body on the
// caller's goroutine: sendUpstream turns an upstream panic into an error,
// it must not be a panic on the probe's goroutine, beyond any recover, which ends the process (found by review, fixed).
func TestProbedBodyPanicIsAnError(t *testing.T) {
	if os.Getenv("HTTPCACHE_PROBE_PANIC_CHILD") == "1" {
		tr := New(WithTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
			io.ReadAll(r.Body)
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
		})))
		req := must(http.NewRequest(http.MethodGet, "https://api.example/x", panicBody{}))
		_, err := tr.RoundTrip(req)
		os.Stdout.WriteString("returned: " + errString(err) + "\n")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestProbedBodyPanicIsAnError$", "-test.count=1")
	cmd.Env = append(os.Environ(), "HTTPCACHE_PROBE_PANIC_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		first := string(out)
		if i := strings.Index(first, "\n\n"); i > 0 {
			first = first[:i]
		}
		t.Fatalf("the process died (%v):\n%s", err, first)
	}
}

type panicBody struct{}

func (panicBody) Read([]byte) (int, error) { panic("body read") }
func (panicBody) Close() error             { return nil }

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// --- isolation probes, expected sound ---

// scripted reads: each call returns the next (data, err); afterwards EOF.
type scripted struct {
	steps  []rs
	closes atomic.Int64
}

func (b *scripted) Read(p []byte) (int, error) {
	if len(b.steps) == 0 {
		return 0, io.EOF
	}
	st := b.steps[0]
	b.steps = b.steps[1:]
	return copy(p, st.s), st.err
}
func (b *scripted) Close() error { b.closes.Add(1); return nil }

type rs struct {
	s   string
	err error
}

func rstep(s string, err error) rs { return rs{s, err} }

// The origin receives exactly what the cache keyed on: a request served
// or stored had an empty body at the origin, and a body with content is
// never answered from storage, whatever its reads return.
func TestProbedBodyIsolationScripted(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "for "+string(b))
	}))
	defer origin.Close()
	cases := map[string]func() *scripted{
		"0,nil then data": func() *scripted {
			return &scripted{steps: append([]rs(nil), rstep("", nil), rstep("secret", nil))}
		},
		"1,EOF": func() *scripted { return &scripted{steps: append([]rs(nil), rstep("s", io.EOF))} },
		"0,EOF then data": func() *scripted {
			return &scripted{steps: append([]rs(nil), rstep("", io.EOF), rstep("secret", nil))}
		},
		"data": func() *scripted { return &scripted{steps: append([]rs(nil), rstep("secret", nil))} },
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			mu.Lock()
			bodies = nil
			mu.Unlock()
			tr := New()
			defer tr.Close()
			// prime an entry with an empty request
			send(t, tr, must(http.NewRequest(http.MethodGet, origin.URL+"/q", nil)))
			for i := range 2 {
				b := mk()
				req := must(http.NewRequest(http.MethodGet, origin.URL+"/q", b))
				resp, got := send(t, tr, req)
				st, _ := StatusOf(resp)
				if b.closes.Load() != 1 {
					t.Errorf("round %d: body closed %d times", i, b.closes.Load())
				}
				mu.Lock()
				last := bodies[len(bodies)-1]
				n := len(bodies)
				mu.Unlock()
				if st.Hit {
					// Hit: the origin must have been asked nothing, and the
					// request must carry no content on the wire either.
					if n != 1 {
						t.Errorf("hit after the origin was asked %d times", n)
					}
					t.Logf("round %d: hit %q", i, got)
				} else if got != "for "+last {
					t.Errorf("round %d: got %q, origin received %q", i, got, last)
				}
			}
			// A request without content after them: still the primed entry?
			_, got := send(t, tr, must(http.NewRequest(http.MethodGet, origin.URL+"/q", nil)))
			if got != "for " {
				t.Errorf("entry was replaced by %q", got)
			}
		})
	}
}

// Two concurrent HEAD/GET requests with empty bodies of unknown length,
// with coalescing, under -race: each caller's body closed exactly once.
func TestProbedEmptyBodiesCloseOnce(t *testing.T) {
	var hits atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		time.Sleep(20 * time.Millisecond)
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "page")
	}))
	defer origin.Close()
	tr := New()
	defer tr.Close()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			method := http.MethodGet
			if i%2 == 1 {
				method = http.MethodHead
			}
			b := &scripted{}
			req := must(http.NewRequest(method, origin.URL+"/p", b))
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if c := b.closes.Load(); c != 1 {
				t.Errorf("closed %d times", c)
			}
		}()
	}
	wg.Wait()
	t.Logf("origin requests: %d", hits.Load())
}
