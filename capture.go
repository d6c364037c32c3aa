package httpcache

import (
	"io"
	"sync"
)

// capturingBody passes a response body to the caller and keeps a copy of
// it. Only when the whole body has arrived without error (EOF, or all
// Content-Length bytes read before Close) does it hand the copy to onComplete,
// once. A caller that stops early, a broken connection or a body over the
// limit leaves nothing behind, so no truncated response is ever stored.
type capturingBody struct {
	body       io.ReadCloser
	buf        []byte
	limit      int64
	expected   int64 // Content-Length, or -1 when unknown
	onComplete func(body []byte)

	mu       sync.Mutex // Read and Close may race when a caller cancels
	finished bool       // onComplete ran, or the copy was abandoned
}

// initialCaptureBytes is the copy's first capacity: a body's copy grows
// with what arrives, never to what its Content-Length declares before the
// bytes come (200 responses declaring 8 MB each would hold 1.6 GB at once).
const initialCaptureBytes = 4 << 10

func newCapturingBody(body io.ReadCloser, expected, limit int64, onComplete func([]byte)) *capturingBody {
	return &capturingBody{
		body:       body,
		limit:      limit,
		expected:   expected,
		onComplete: onComplete,
	}
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
	n, err := c.body.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		return n, err
	}
	if n > 0 {
		if int64(len(c.buf)+n) > c.limit {
			c.abandon()
		} else {
			c.grow(n)
			c.buf = append(c.buf, p[:n]...)
		}
	}
	switch {
	case c.finished:
	case err == io.EOF:
		c.complete()
	case err != nil:
		c.abandon()
	}
	return n, err
}

// Close stores the copy when the caller read exactly Content-Length bytes
// but stopped before seeing EOF (as decoders often do); any shorter read is
// abandoned.
func (c *capturingBody) Close() error {
	c.mu.Lock()
	if !c.finished {
		if c.expected >= 0 && int64(len(c.buf)) == c.expected {
			c.complete()
		} else {
			c.abandon()
		}
	}
	c.mu.Unlock()
	return c.body.Close()
}

func (c *capturingBody) complete() {
	c.finished = true
	if c.expected >= 0 && int64(len(c.buf)) != c.expected {
		c.buf = nil
		return // the body does not match its declared length
	}
	body := c.buf
	if spare := cap(body) - len(body); spare > len(body)/4 && spare > 512 {
		// A body of unknown length: stored at its size, not the buffer's.
		body = append([]byte(nil), body...)
	}
	c.buf = nil
	c.onComplete(body)
}

func (c *capturingBody) abandon() {
	c.finished = true
	c.buf = nil
}
