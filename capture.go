package httpcache

import (
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
)

// capturingBody passes a response body to the caller and keeps a copy of
// it. Only when the whole body has arrived without error (EOF, or all
// Content-Length bytes read before Close) does it hand the copy to onComplete,
// once. A caller that closes the body before its end, as json.Decoder
// users do, has the rest read for it when it is small (bodyDrain). A
// broken connection, a body over the limit or a rest too large leaves
// nothing behind, and onAbandon says why: no truncated response is ever
// stored.
type capturingBody struct {
	body       io.ReadCloser
	buf        []byte
	limit      int64
	expected   int64 // Content-Length, or -1 when unknown
	drain      bodyDrain
	onComplete func(body []byte)
	onAbandon  func(reason string)

	mu       sync.Mutex // Read and Close may race when a caller cancels
	finished bool       // onComplete ran, or the copy was abandoned
	// draining: Close reads the rest; drainLeft is what it may still read.
	draining  bool
	drainLeft int64
	// reading counts Reads of the body under way. Reads that overlap (a
	// caller's Read racing Close's drain) may append their bytes out of
	// stream order, so the copy is abandoned.
	reading int
	// framed: the body is net/http's own, which ends at its declared
	// length or fails (HTTP/1.1 and HTTP/2 alike): all its declared bytes
	// read is its end, though its EOF may come later (an HTTP/2 stream's
	// end after its last data).
	framed bool
}

// initialCaptureBytes is the copy's first capacity: a body's copy grows
// with what arrives, never to what its Content-Length declares before the
// bytes come (200 responses declaring 8 MB each would hold 1.6 GB at once).
const initialCaptureBytes = 4 << 10

// Why a body was not stored after all (Stats.NotStored, debug records).
const (
	abandonedClosedEarly = "body-closed-early"
	abandonedTooLarge    = "body-too-large"
	abandonedReadError   = "body-read-error"
	abandonedWrongLength = "body-wrong-length" // ended at another length than it declared
)

// bodyDrain bounds what Close reads of a body the caller did not read to
// its end, so that it is stored whole (WithBodyDrain).
type bodyDrain struct {
	maxBytes int64
	timeout  time.Duration
}

// Defaults of WithBodyDrain.
const (
	DefaultDrainBytes   = 64 << 10
	DefaultDrainTimeout = 250 * time.Millisecond
)

func newCapturingBody(body io.ReadCloser, expected, limit int64, drain bodyDrain, onComplete func([]byte), onAbandon func(string)) *capturingBody {
	return &capturingBody{
		body:       body,
		limit:      limit,
		expected:   expected,
		drain:      drain,
		onComplete: onComplete,
		onAbandon:  onAbandon,
		framed:     isNetHTTPBody(body),
	}
}

// isNetHTTPBody reports whether a response body is one of net/http's
// transports' own (HTTP/1.1's, HTTP/2's) or http.NoBody, whose length
// net/http holds to the response's declared one. A body of any other type
// may hold more bytes than it declares: a RoundTripper's that builds its
// responses, or a wrapper, net/http's own among them (http.MaxBytesReader,
// an http.Client's timeout body), which wraps whatever it is given.
func isNetHTTPBody(body io.ReadCloser) bool {
	t := reflect.TypeOf(body)
	if t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || !strings.HasPrefix(t.PkgPath(), "net/http") {
		return false
	}
	switch t.Name() {
	case "bodyEOFSignal", "http2transportResponseBody", "transportResponseBody", "noBody":
		return true
	}
	return false
}

// grow makes room for n more bytes: doubling, as append does, but never
// past the declared length or the limit, so that the copy of a body of
// known length ends at its exact size.
func (c *capturingBody) grow(n int) {
	need := int64(len(c.buf) + n)
	if need <= int64(cap(c.buf)) {
		return
	}
	capacity := max(need, 2*int64(cap(c.buf)), initialCaptureBytes)
	if c.expected >= need {
		capacity = min(capacity, c.expected)
	}
	capacity = min(capacity, c.limit)
	grown := make([]byte, len(c.buf), capacity)
	copy(grown, c.buf)
	c.buf = grown
}

func (c *capturingBody) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.reading++; c.reading > 1 && !c.finished {
		c.abandonFor(abandonedClosedEarly)
	}
	c.mu.Unlock()
	n, err := c.body.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reading--; c.reading > 0 && !c.finished {
		c.abandonFor(abandonedClosedEarly) // another Read began meanwhile
	}
	if c.finished {
		return n, err
	}
	if c.draining {
		if c.drainLeft -= int64(n); c.drainLeft < 0 {
			c.abandonFor(abandonedClosedEarly)
			return n, err
		}
	}
	if n > 0 {
		if int64(len(c.buf)+n) > c.limit {
			c.abandonFor(abandonedTooLarge)
		} else {
			c.grow(n)
			c.buf = append(c.buf, p[:n]...)
		}
	}
	switch {
	case c.finished:
	case err == io.EOF:
		c.complete()
	case err != nil && c.draining:
		// The caller closed the body before its end, and the rest did not
		// come within the drain's time (its timer closed the body).
		c.abandonFor(abandonedClosedEarly)
	case err != nil:
		c.abandonFor(abandonedReadError)
	}
	return n, err
}

// Close stores the copy only when the body has been seen to its end: read
// to EOF by the caller or by Close, or, for one of net/http's bodies
// (framed), read to its declared length. A body closed before its end has
// its rest read first, when the rest is no more than the drain's bytes and
// arrives within its timeout: json.Decoder stops at the end of the value,
// before EOF, and most Go API clients decode that way. Any other is
// abandoned.
func (c *capturingBody) Close() error {
	c.drainRest()
	c.mu.Lock()
	if !c.finished {
		if c.framed && c.expected >= 0 && int64(len(c.buf)) == c.expected {
			c.complete()
		} else {
			c.abandonFor(abandonedClosedEarly)
		}
	}
	c.mu.Unlock()
	return c.body.Close()
}

// drainRest reads what remains of the body through Read (which keeps the
// copy, and completes it at EOF), up to the drain's bytes and time. A body
// that is not net/http's (framed) and whose declared bytes have all been
// read gets one more read, which must say EOF: a body that declares fewer
// bytes than it has (a RoundTripper of the caller's that builds its
// response, or leaves ContentLength at zero) would otherwise be stored cut
// at its declared length. With draining off, such a body is not stored.
func (c *capturingBody) drainRest() {
	c.mu.Lock()
	rest := int64(-1)
	if c.expected >= 0 {
		rest = c.expected - int64(len(c.buf))
	}
	limit := c.drain.maxBytes
	if rest == 0 {
		limit = 0 // only the EOF is left to see
	}
	skip := c.finished || c.drain.maxBytes <= 0 || rest > c.drain.maxBytes || rest == 0 && c.framed
	c.draining, c.drainLeft = true, limit
	c.mu.Unlock()
	if skip {
		return
	}
	// Closing the body from the timer ends a read that waits.
	timer := time.AfterFunc(c.drain.timeout, func() { c.body.Close() })
	defer timer.Stop()
	io.CopyN(io.Discard, readerFunc(c.Read), limit+1)
}

// declaredLength is the length a response's body must have to be stored:
// contentLength (http.Response.ContentLength), or, when that is unknown
// (-1, as a RoundTripper of the caller's may leave it), the response's
// Content-Length field, which the stored response keeps (RFC 9110 §8.6: one
// length, repeated at most). ok is false when the field is not a length or
// says another than contentLength: stored, the response would describe a
// body it does not have, and a proxy that copies the field would frame it
// wrongly.
func declaredLength(contentLength int64, header http.Header) (length int64, ok bool) {
	values, present := header["Content-Length"]
	if !present {
		return contentLength, true
	}
	length = -1
	for _, line := range values {
		for member := range strings.SplitSeq(line, ",") {
			n, err := strconv.ParseUint(trimOWS(member), 10, 63)
			if err != nil || length >= 0 && int64(n) != length {
				return 0, false
			}
			length = int64(n)
		}
	}
	if length < 0 || contentLength >= 0 && contentLength != length {
		return 0, false
	}
	return length, true
}

// readerFunc makes a Read method an io.Reader.
type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func (c *capturingBody) complete() {
	c.finished = true
	if c.expected >= 0 && int64(len(c.buf)) != c.expected {
		c.abandonFor(abandonedWrongLength)
		return
	}
	body := c.buf
	if spare := cap(body) - len(body); spare > len(body)/4 && spare > 512 {
		// A body of unknown length: stored at its size, not the buffer's.
		body = append([]byte(nil), body...)
	}
	c.buf = nil
	c.onComplete(body)
}

// abandonFor drops the copy, and says why when there is a reason worth
// telling.
func (c *capturingBody) abandonFor(reason string) {
	c.finished = true
	c.buf = nil
	if reason != "" && c.onAbandon != nil {
		c.onAbandon(reason)
	}
}
