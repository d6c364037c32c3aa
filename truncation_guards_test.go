package httpcache

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// cutBodyBody is a deterministic body of n bytes, tagged with version v.
func cutBodyBody(v byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte((i+int(v))%26)
	}
	copy(b, fmt.Sprintf("v%d:", v))
	return b
}

// cutBodyCut writes the header and only part of a Content-Length body, then
// closes the connection.
func cutBodyCut(w http.ResponseWriter, full []byte, cut int, extra http.Header) {
	hj := w.(http.Hijacker)
	conn, buf, err := hj.Hijack()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nCache-Control: max-age=600\r\nETag: \"x\"\r\n", len(full))
	for k, vs := range extra {
		for _, v := range vs {
			fmt.Fprintf(buf, "%s: %s\r\n", k, v)
		}
	}
	buf.WriteString("\r\n")
	buf.Write(full[:cut])
	buf.Flush()
}

func cutBodyClient(t *testing.T, opts ...Option) (*Transport, *http.Client) {
	tr, err := NewTransport(append([]Option{WithTransport(&http.Transport{})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr, &http.Client{Transport: tr}
}

// TestCutGzipIsNotStored: gzip through net/http's transparent
// decompression, cut mid-stream, is not stored; the next request gets the
// whole body.
func TestCutGzipIsNotStored(t *testing.T) {
	full := cutBodyBody(3, 300<<10)
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(full)
	zw.Close()
	z := zb.Bytes()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			cutBodyCut(w, z, len(z)-10, http.Header{"Content-Encoding": {"gzip"}, "Vary": {"Accept-Encoding"}})
			return
		}
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Vary", "Accept-Encoding")
		w.Write(full)
	}))
	defer srv.Close()
	_, c := cutBodyClient(t)
	resp, err := c.Get(srv.URL)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Log("first read: no error on a cut gzip body")
	}
	_, body := get(t, c, srv.URL)
	if !bytes.Equal([]byte(body), full) {
		t.Fatalf("second: %d bytes, want %d", len(body), len(full))
	}
}

// TestCoalescedWaitersOfACutBody: coalesced waiters while the leader's
// origin connection is cut: no caller gets a short body without an error,
// and nothing truncated is stored.
func TestCoalescedWaitersOfACutBody(t *testing.T) {
	full := cutBodyBody(6, 50<<10)
	release := make(chan struct{})
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			<-release
			cutBodyCut(w, full, len(full)/3, nil)
			return
		}
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write(full)
	}))
	defer srv.Close()
	tr, c := cutBodyClient(t)
	var wg sync.WaitGroup
	results := make([][]byte, 5)
	errs := make([]error, 5)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Get(srv.URL)
			if err != nil {
				errs[i] = err
				return
			}
			results[i], errs[i] = io.ReadAll(resp.Body)
			resp.Body.Close()
		}()
		if i == 0 {
			waitUntil(t, "leader at origin", func() bool { return n.Load() == 1 })
		}
	}
	waitUntil(t, "waiters", func() bool { return tr.coalescedWaiters() >= 5 })
	close(release)
	wg.Wait()
	for i := range 5 {
		if errs[i] == nil && !bytes.Equal(results[i], full) {
			t.Errorf("caller %d: %d bytes without error, want %d", i, len(results[i]), len(full))
		}
	}
	_, body := get(t, c, srv.URL)
	if !bytes.Equal([]byte(body), full) {
		t.Fatalf("after: %d bytes", len(body))
	}
}

var _ = bufio.NewReader
var _ = net.Dial
var _ = strconv.Itoa
