package httpcache

import (
	"fmt"
	"io"
	"net/http"
	"time"
)

// Probing a request body of unknown length. A GET or HEAD whose Body is
// neither nil nor http.NoBody but whose ContentLength is 0 may carry
// content or none: net/http's transport reads one byte to find out before
// it sends (it sends the body chunked if there is one). Such requests are
// common without content: an HTTP/2 server's request (r.Clone forwarded by
// a gateway) has a Body of its own type and ContentLength 0. The cache
// finds out the same way, so that those are cached while a request with
// content, which its key does not hold, is never answered from storage.

// bodyProbeWait is how long the cache waits for a body of unknown length
// to give its first byte or its end, as net/http does (200 ms). A body
// that gives neither in time is taken to have content: the request goes to
// the origin, and the byte, when it comes, goes with the rest.
const bodyProbeWait = 200 * time.Millisecond

// probeBody returns req, or a copy of it whose body says what the probe
// found: http.NoBody when req's body has no content (req's own body is
// then closed, as RoundTrip must), else one that gives what was read and
// then the rest. Only a GET or HEAD body of unknown length is probed.
func probeBody(req *http.Request) *http.Request {
	if req.Body == nil || req.Body == http.NoBody || req.ContentLength != 0 {
		return req
	}
	probe := startBodyProbe(req.Body)
	timer := time.NewTimer(bodyProbeWait)
	defer timer.Stop()
	probed := *req
	select {
	case <-probe.done:
		if probe.n == 0 && probe.err == io.EOF {
			req.Body.Close()
			probed.Body = http.NoBody
			return &probed
		}
	case <-timer.C:
	case <-req.Context().Done(): // the upstream fails it at once
	}
	probed.Body = probe
	// Chunked, as net/http would send it: so its transport does not probe
	// the body a second time.
	probed.TransferEncoding = []string{"chunked"}
	return &probed
}

// closeRequestBody closes a request's body that is not sent, as RoundTrip
// must (a probed body's read then ends too).
func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// bodyProbe reads the first byte of a body on a goroutine of its own,
// which ends when that read returns (as net/http's does; closing the body,
// which the upstream transport does, ends a read that waits). Read gives
// that byte, then the rest of the body.
type bodyProbe struct {
	body io.ReadCloser
	done chan struct{} // closed when the first read has returned

	// Set before done is closed.
	first [1]byte
	n     int
	err   error

	given   bool  // the first read's outcome was given by Read
	pending error // the first read's error, when it came with the byte
}

func startBodyProbe(body io.ReadCloser) *bodyProbe {
	p := &bodyProbe{body: body, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer func() {
			// A body that panics fails its request, as it does when the
			// upstream reads it on the caller's goroutine: it must not end
			// the process from this one.
			if r := recover(); r != nil {
				p.n, p.err = 0, fmt.Errorf("httpcache: reading the request body panicked: %v", r)
			}
		}()
		p.n, p.err = body.Read(p.first[:])
	}()
	return p
}

// Read gives the probed byte and error first, then reads the body.
func (p *bodyProbe) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if !p.given {
		<-p.done
		p.given = true
		if p.n == 1 {
			b[0] = p.first[0]
			p.pending = p.err // given by the next read
			return 1, nil
		}
		if p.err != nil {
			return 0, p.err
		}
	}
	if err := p.pending; err != nil {
		return 0, err
	}
	return p.body.Read(b)
}

// Close closes the body, which ends a first read still waiting.
func (p *bodyProbe) Close() error { return p.body.Close() }
