package httpcache

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// chunkBody hands out chunks in the order its lock is taken (like net/http's
// body, whose reads are serialized), but returns from Read only after delay[i]:
// the time a goroutine may take between the inner read and capturingBody's
// lock. Chunk 2 only "arrives" after 60 ms.
type chunkBody struct {
	mu     sync.Mutex
	chunks []string
	next   int
	delays map[int]time.Duration
	wait   map[int]time.Duration
}

func (b *chunkBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	i := b.next
	if i >= len(b.chunks) {
		b.mu.Unlock()
		return 0, io.EOF
	}
	time.Sleep(b.wait[i])
	b.next++
	n := copy(p, b.chunks[i])
	b.mu.Unlock()
	time.Sleep(b.delays[i])
	return n, nil
}

func (b *chunkBody) Close() error { return nil }

// A caller's Read racing its own Close (whose drain reads the rest) could
// append chunks in lock order, not stream order, and store "BBBBAAAACCCC"
// for a stream "AAAABBBBCCCC", of the right length. Overlapping reads must
// store nothing rather than bytes out of order. (Found by review.)
func TestCaptureOverlappingReadsStoreNothingOutOfOrder(t *testing.T) {
	body := &chunkBody{
		chunks: []string{"AAAA", "BBBB", "CCCC"},
		delays: map[int]time.Duration{0: 30 * time.Millisecond},
		wait:   map[int]time.Duration{2: 60 * time.Millisecond},
	}
	var stored []byte
	c := newCapturingBody(body, 12, 1<<20, bodyDrain{maxBytes: 64 << 10, timeout: time.Second},
		func(b []byte) { stored = append([]byte(nil), b...) }, nil)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		c.Read(make([]byte, 4)) // gets AAAA, appends it 30 ms later
	}()
	time.Sleep(5 * time.Millisecond)
	c.Close() // drains BBBB, CCCC
	<-readDone
	if stored != nil && string(stored) != "AAAABBBBCCCC" {
		t.Fatalf("stored body %q, the stream was %q", stored, "AAAABBBBCCCC")
	}
}

// slowRest gives its first part at once, and then nothing until closed.
type slowRest struct {
	first  string
	closed chan struct{}
	once   sync.Once
}

func (b *slowRest) Read(p []byte) (int, error) {
	if b.first != "" {
		n := copy(p, b.first)
		b.first = b.first[n:]
		return n, nil
	}
	<-b.closed
	return 0, io.ErrUnexpectedEOF
}

func (b *slowRest) Close() error { b.once.Do(func() { close(b.closed) }); return nil }

// TestDrainTimeoutIsAnEarlyClose: a body closed before its end whose rest
// does not come within the drain's time is "body-closed-early", not the
// "body-read-error" of a broken connection.
func TestDrainTimeoutIsAnEarlyClose(t *testing.T) {
	body := &slowRest{first: `{"a":1}`, closed: make(chan struct{})}
	reasons := make(chan string, 1)
	c := newCapturingBody(body, 100, 1<<20, bodyDrain{maxBytes: 1 << 10, timeout: 10 * time.Millisecond},
		func([]byte) { t.Error("a body without its rest was stored") },
		func(reason string) { reasons <- reason })
	buf := make([]byte, 7)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := <-reasons; got != abandonedClosedEarly {
		t.Errorf("reason %q, want %q", got, abandonedClosedEarly)
	}
}

// TestDeclaredLength: the length a body must have to be stored is
// ContentLength, or the Content-Length field when that is unknown; a field
// that is not one length, or says another, keeps the response from being
// stored (RFC 9110 §8.6).
func TestDeclaredLength(t *testing.T) {
	tests := []struct {
		contentLength int64
		field         []string
		want          int64
		ok            bool
	}{
		{contentLength: 5, want: 5, ok: true},
		{contentLength: -1, want: -1, ok: true},
		{contentLength: -1, field: []string{"10"}, want: 10, ok: true},
		{contentLength: 10, field: []string{"10"}, want: 10, ok: true},
		{contentLength: -1, field: []string{"5, 5"}, want: 5, ok: true},
		{contentLength: -1, field: []string{"5", "5"}, want: 5, ok: true},
		{contentLength: 5, field: []string{"10"}},
		{contentLength: -1, field: []string{"5, 6"}},
		{contentLength: -1, field: []string{"-5"}},
		{contentLength: -1, field: []string{"+5"}},
		{contentLength: -1, field: []string{"0x5"}},
		{contentLength: -1, field: []string{""}},
		{contentLength: -1, field: []string{"99999999999999999999"}},
	}
	for _, tt := range tests {
		header := http.Header{}
		if tt.field != nil {
			header["Content-Length"] = tt.field
		}
		got, ok := declaredLength(tt.contentLength, header)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("declaredLength(%d, %q) = %d, %v; want %d, %v", tt.contentLength, tt.field, got, ok, tt.want, tt.ok)
		}
	}
}

// TestBodyShorterThanItsFieldIsNotStored: an upstream that leaves
// ContentLength unknown but keeps a Content-Length field (a decompressing
// wrapper that forgot it) and ends the body early has it passed on, not
// stored: stored, it would be served with a Content-Length its body does
// not have.
func TestBodyShorterThanItsFieldIsNotStored(t *testing.T) {
	for _, tt := range []struct {
		field, body string
		stored      bool
	}{{"10", "01234", false}, {"5", "01234", true}, {"5, 5", "01234", true}, {"5, 6", "01234", false}} {
		var requests atomic.Int64
		tr := New(WithTransport(roundTripFunc(func(req *http.Request) (*http.Response, error) {
			requests.Add(1)
			h := http.Header{"Cache-Control": {"max-age=600"}, "Content-Length": {tt.field}}
			return &http.Response{StatusCode: 200, Header: h, ContentLength: -1, Body: io.NopCloser(strings.NewReader(tt.body)), Request: req}, nil
		})))
		for range 2 {
			send(t, tr, must(http.NewRequest(http.MethodGet, "https://api.example.com/x", nil)))
		}
		tr.Close()
		if stored := requests.Load() == 1; stored != tt.stored {
			t.Errorf("Content-Length %q, body %q: stored %v, want %v", tt.field, tt.body, stored, tt.stored)
		}
	}
}
