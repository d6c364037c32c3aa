package httpcache_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c650553b/httpcache"
	"go.uber.org/goleak"
)

var hostileSlowBodies sync.Map

// hostileBody is a body of size bytes that names its path and offsets, so
// that a byte out of place shows.
func hostileBody(path string, size int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "%s:%d;", path, i)
	}
	return b.Bytes()[:size]
}

func hostileSlowBody(path string) []byte {
	if b, ok := hostileSlowBodies.Load(path); ok {
		return b.([]byte)
	}
	b := hostileBody(path, 64<<10)
	hostileSlowBodies.Store(path, b)
	return b
}

// hostileSlowOrigin answers after 100 ms and streams 64 KiB over ~300 ms.
func hostileSlowOrigin(t *testing.T, requests *atomic.Int64) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		time.Sleep(100 * time.Millisecond)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", strconv.Itoa(64<<10))
		body := hostileSlowBody(r.URL.Path)
		for i := 0; i < len(body); i += 8 << 10 {
			w.Write(body[i : i+8<<10])
			w.(http.Flusher).Flush()
			select {
			case <-time.After(40 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// TestCoalescedCancellingCallers: hundreds of callers of a few URLs
// on a slow origin, some of which cancel mid-body: every other caller gets
// the whole body.
func TestCoalescedCancellingCallers(t *testing.T) {
	var requests atomic.Int64
	origin := hostileSlowOrigin(t, &requests)
	upstream := &http.Transport{MaxIdleConnsPerHost: 100}
	defer upstream.CloseIdleConnections()
	tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithCoalescing(httpcache.CoalesceOptions{}))
	defer tr.Close()
	client := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	var bad, cancelled atomic.Int64
	var mu sync.Mutex
	var firstBad string
	var maxLatency time.Duration
	for round := range 3 {
		for i := range 300 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				path := fmt.Sprintf("/r%d/u%d", round, i%3)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				canceller := i%10 == 0
				start := time.Now()
				defer func() {
					d := time.Since(start)
					mu.Lock()
					if d > maxLatency {
						maxLatency = d
					}
					mu.Unlock()
				}()
				req, _ := http.NewRequestWithContext(ctx, "GET", origin.URL+path, nil)
				resp, err := client.Do(req)
				if err != nil {
					if canceller {
						return
					}
					bad.Add(1)
					mu.Lock()
					firstBad = fmt.Sprint(path, " ", err)
					mu.Unlock()
					return
				}
				var body []byte
				if canceller {
					buf := make([]byte, 1000)
					n, _ := io.ReadFull(resp.Body, buf)
					body = buf[:n]
					cancel()
					rest, _ := io.ReadAll(resp.Body)
					body = append(body, rest...)
					resp.Body.Close()
					cancelled.Add(1)
					if !bytes.HasPrefix(hostileSlowBody(path), body) {
						bad.Add(1)
						mu.Lock()
						firstBad = fmt.Sprint(path, " canceller got wrong bytes")
						mu.Unlock()
					}
					return
				}
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || !bytes.Equal(body, hostileSlowBody(path)) {
					bad.Add(1)
					st, _ := httpcache.StatusOf(resp)
					mu.Lock()
					firstBad = fmt.Sprintf("%s: err %v, %d bytes, status %+v", path, err, len(body), st)
					mu.Unlock()
				}
			}()
		}
		time.Sleep(150 * time.Millisecond)
	}
	wg.Wait()
	t.Logf("origin requests: %d for 900 callers on 9 URLs; cancelled %d; slowest caller %v", requests.Load(), cancelled.Load(), maxLatency)
	if bad.Load() > 0 {
		t.Fatalf("%d callers did not get whole bodies, e.g. %s", bad.Load(), firstBad)
	}
}

// hostileRawOrigin serves each connection with handle, on raw TCP.
func hostileRawOrigin(t *testing.T, handle func(c net.Conn, req *http.Request)) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				go func() { <-done; c.Close() }()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					handle(c, req)
				}
			}()
		}
	}()
	t.Cleanup(func() { close(done); l.Close(); wg.Wait() })
	return "http://" + l.Addr().String()
}

// TestContentLengthLies: bodies longer and shorter than their
// Content-Length are never stored truncated or served wrong.
func TestContentLengthLies(t *testing.T) {
	var n atomic.Int64
	base := hostileRawOrigin(t, func(c net.Conn, req *http.Request) {
		i := n.Add(1)
		switch req.URL.Path {
		case "/short": // promises 1000, sends 500, closes
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 1000\r\n\r\n%s", strings.Repeat("s", 500))
			c.Close()
		case "/long": // promises 10, sends 30
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 10\r\n\r\n0123456789%s", strings.Repeat("L", 20))
		case "/close-delimited-cut": // no length, connection reset midway
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		default:
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 2\r\n\r\n%02d", i%100)
		}
	})
	for _, coalesce := range []bool{false, true} {
		upstream := &http.Transport{}
		tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithCoalescing(httpcache.CoalesceOptions{Disabled: !coalesce}))
		client := &http.Client{Transport: tr}
		for _, path := range []string{"/short", "/close-delimited-cut"} {
			for i := range 3 {
				var wg sync.WaitGroup
				for range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						resp, err := client.Get(base + path)
						if err != nil {
							return
						}
						body, err := io.ReadAll(resp.Body)
						resp.Body.Close()
						st, _ := httpcache.StatusOf(resp)
						if err == nil {
							t.Errorf("coalesce=%v %s #%d: truncated body %d bytes read to a clean end (hit=%v)", coalesce, path, i, len(body), st.Hit)
						}
						if st.Hit {
							t.Errorf("coalesce=%v %s: a truncated response was stored", coalesce, path)
						}
					}()
				}
				wg.Wait()
			}
		}
		for i := range 3 {
			resp, err := client.Get(base + "/long")
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(body) != "0123456789" {
				t.Errorf("/long #%d: %q, %v", i, body, err)
			}
		}
		tr.Close()
		upstream.CloseIdleConnections()
	}
}

// TestHostileHeadersAndVary: huge header counts, Vary: *, Vary of
// 1000 names, and a Vary that changes on every response.
func TestHostileHeadersAndVary(t *testing.T) {
	var n atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		switch r.URL.Path {
		case "/many-fields":
			for j := range 6000 {
				w.Header().Set("X-F"+strconv.Itoa(j), "v")
			}
		case "/many-values":
			for range 6000 {
				w.Header().Add("X-F", "v")
			}
		case "/vary-star":
			w.Header().Set("Vary", "*")
		case "/vary-1000":
			names := make([]string, 1000)
			for j := range names {
				names[j] = "X-V" + strconv.Itoa(j)
			}
			w.Header().Set("Vary", strings.Join(names, ", "))
		case "/vary-1000-lines":
			for j := range 1000 {
				w.Header().Add("Vary", "X-V"+strconv.Itoa(j))
			}
		case "/vary-changes":
			w.Header().Set("Vary", "X-A"+strconv.FormatInt(i, 10))
		}
		fmt.Fprintf(w, "%s#%d", r.URL.Path, i)
	}))
	defer origin.Close()
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	mem := httpcache.NewMemoryStorage(1 << 20)
	tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithStorage(mem))
	defer tr.Close()
	client := &http.Client{Transport: tr}
	for _, path := range []string{"/many-fields", "/many-values", "/vary-star", "/vary-1000", "/vary-1000-lines", "/vary-changes"} {
		var prev string
		for i := range 5 {
			req, _ := http.NewRequest("GET", origin.URL+path, nil)
			for j := range 1000 {
				req.Header.Set("X-V"+strconv.Itoa(j), "same")
			}
			req.Header.Set("X-A"+strconv.Itoa(i), "x")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			st, _ := httpcache.StatusOf(resp)
			if err != nil || !strings.HasPrefix(string(body), path+"#") {
				t.Errorf("%s: %q %v", path, body, err)
			}
			if path == "/vary-star" && st.Hit {
				t.Errorf("Vary: * served from the cache")
			}
			if st.Hit && string(body) != prev {
				t.Errorf("%s: hit %q, stored was %q", path, body, prev)
			}
			prev = string(body)
			t.Logf("%s #%d: hit=%v %+v", path, i, st.Hit, st)
		}
	}
	if sz := mem.Size(); sz > 1<<20 {
		t.Errorf("memory store %d bytes over its bound", sz)
	}
}

// TestCloseWithRequestsInFlight: Close while hundreds of coalesced
// and background requests are in flight returns promptly, and no
// goroutine of the cache outlives it.
func TestCloseWithRequestsInFlight(t *testing.T) {
	var requests atomic.Int64
	origin := hostileSlowOrigin(t, &requests)
	ignore := goleak.IgnoreCurrent()
	before := runtime.NumGoroutine()
	upstream := &http.Transport{MaxIdleConnsPerHost: 100}
	disk, err := httpcache.NewDiskStorage(t.TempDir(), 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	tiered, _ := httpcache.NewTieredStorage(httpcache.NewMemoryStorage(1<<20), disk, time.Second)
	tr := httpcache.New(httpcache.WithTransport(upstream), httpcache.WithStorage(tiered),
		httpcache.WithRules(httpcache.Rule{Pattern: "127.0.0.1", TTL: 50 * time.Millisecond, StaleWhileRevalidate: time.Minute}))
	client := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(fmt.Sprintf("%s/c%d", origin.URL, i%4))
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					failed.Add(1)
				}
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
		if i == 150 {
			time.Sleep(250 * time.Millisecond) // stale entries: background revalidations
		}
	}
	time.Sleep(120 * time.Millisecond)
	start := time.Now()
	if err := tr.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	t.Logf("Close took %v with requests in flight", time.Since(start))
	wg.Wait()
	upstream.CloseIdleConnections()
	origin.CloseClientConnections()
	t.Logf("failed after Close: %d; goroutines %d before", failed.Load(), before)
	if err := goleak.Find(ignore, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"), goleak.IgnoreTopFunction("internal/poll.runtime_pollWait")); err != nil {
		time.Sleep(2 * time.Second)
		if err := goleak.Find(ignore, goleak.IgnoreTopFunction("internal/poll.runtime_pollWait")); err != nil {
			t.Errorf("goroutines outlive Close: %v", err)
		}
	}
}
