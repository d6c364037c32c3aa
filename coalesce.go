package httpcache

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Coalescing: identical requests in flight share one network step.

// Defaults of coalescing.
const (
	// DefaultCoalesceTimeout bounds a shared request to the origin.
	DefaultCoalesceTimeout = 30 * time.Second
	// coalescePass is how long a request whose response could not be
	// shared goes to the origin on its own (hit-for-pass).
	coalescePass = 10 * time.Second
	// maxPassKeys bounds the hit-for-pass memory.
	maxPassKeys = 4096
)

// DefaultCoalesceIgnoredHeaders are the request fields that do not keep
// identical requests apart by default: tracing and request identifiers,
// which differ on every request.
var DefaultCoalesceIgnoredHeaders = []string{"Traceparent", "Tracestate", "X-Request-Id", "X-Correlation-Id", "X-Amzn-Trace-Id"}

// CoalesceOptions configure how identical requests in flight share one
// request to the origin. Set them with WithCoalescing.
//
// Requests are identical when they have the same method, storage key (the
// URL as net/http sends it, and the partition: credentials and what
// WithPartition names), header fields, credentials always included, and
// the same RequestOptions. While the first is at the origin, the others wait for its
// response, and each gets its own copy: its own *http.Response, Header map
// and Body reader. Coalescing covers every request the cache sends for GET
// and HEAD: misses, revalidations and background revalidations.
//
// What is shared: never a response that sets a cookie or says no-store or
// private, which is for the request that made it only. Otherwise, in a
// private cache (the default), every response, since identical requests
// carry the same credentials; in a shared cache, only a response the cache
// may reuse (one it stores, or a stored one it serves). For a response not
// shared, the waiting requests go to the origin on their own, and for a
// few seconds identical requests are not coalesced (as proxies do with
// "hit-for-pass"). All shares every response, those too, in both modes.
//
// When one caller alone waits for the response, it gets it as it is,
// streamed. When several do, it is read whole (up to MaxBodyBytes) before
// they get it, so they see its headers once its body has arrived. Waiters
// whose request shared another's see "collapsed" in Cache-Status.
type CoalesceOptions struct {
	// Disabled turns coalescing off: every request the cache cannot answer
	// goes to the origin.
	Disabled bool

	// All shares every response among identical requests, whatever the
	// cache mode and the response: one that sets a cookie, says no-store or
	// private, or is an error, goes to every caller waiting for it, who
	// then all hold the same session cookie or private answer. For
	// rate-limited APIs whose callers are one client, where one request is
	// worth more than the rules above.
	All bool

	// IgnoreHeaders are request fields that do not keep requests apart,
	// such as tracing headers; the origin sees those of the first request.
	// Nil means DefaultCoalesceIgnoredHeaders; an empty, non-nil slice
	// ignores none. Credential fields (WithCredentialFields) cannot be
	// ignored.
	IgnoreHeaders []string

	// MaxBodyBytes is the largest response body shared; a larger response
	// goes to one of the waiting requests, and the others make their own.
	// Zero means the WithMaxBodyBytes limit.
	MaxBodyBytes int64

	// Timeout bounds the shared request to the origin while several
	// callers share it: it runs on a context of its own, which no one
	// caller's cancellation ends, but it is cancelled when every caller
	// waiting for it has gone. A caller alone keeps its own context: no
	// deadline it did not set, and its cancellation stops the body at once.
	// Zero means DefaultCoalesceTimeout.
	Timeout time.Duration
}

// WithCoalescing configures the sharing of identical requests in flight.
// It is on by default, with the zero CoalesceOptions.
func WithCoalescing(opts CoalesceOptions) Option {
	return func(c *config) error {
		if opts.MaxBodyBytes < 0 {
			return fmt.Errorf("WithCoalescing: MaxBodyBytes %d is negative", opts.MaxBodyBytes)
		}
		if opts.Timeout < 0 {
			return fmt.Errorf("WithCoalescing: Timeout %v is negative", opts.Timeout)
		}
		for _, name := range opts.IgnoreHeaders {
			if !isToken(name) {
				return fmt.Errorf("WithCoalescing: %q is not a header field name", name)
			}
		}
		c.coalesce = opts
		return nil
	}
}

// checkIgnored reports an ignored field that carries credentials:
// requests with other credentials must never share a response.
func (opts CoalesceOptions) checkIgnored(credentialFields []string) error {
	for _, name := range opts.IgnoreHeaders {
		if slices.Contains(credentialFields, http.CanonicalHeaderKey(name)) {
			return fmt.Errorf("WithCoalescing: %s cannot be ignored: requests with other credentials must not share a response", name)
		}
	}
	return nil
}

// coalescer shares one network step among identical requests in flight.
type coalescer struct {
	all     bool
	shared  bool // the cache's mode
	ignored []string
	maxBody int64
	timeout time.Duration
	now     func() time.Time
	logger  *slog.Logger

	mu      sync.Mutex
	closed  bool
	flights map[string]*flight
	pass    map[string]time.Time // identity → until when it is not coalesced
	wg      sync.WaitGroup       // flights running
}

func newCoalescer(cfg *config) *coalescer {
	opts := cfg.coalesce
	c := &coalescer{
		all:     opts.All,
		shared:  cfg.shared,
		maxBody: opts.MaxBodyBytes,
		timeout: opts.Timeout,
		now:     cfg.now,
		logger:  cfg.logger,
		flights: make(map[string]*flight),
		pass:    make(map[string]time.Time),
	}
	ignored := opts.IgnoreHeaders
	if ignored == nil {
		ignored = DefaultCoalesceIgnoredHeaders
	}
	c.ignored = make([]string, len(ignored))
	for i, name := range ignored {
		c.ignored[i] = http.CanonicalHeaderKey(name)
	}
	if c.maxBody == 0 {
		c.maxBody = cfg.maxBodyBytes
	}
	if c.timeout == 0 {
		c.timeout = DefaultCoalesceTimeout
	}
	return c
}

// flight is one shared network step and its outcome.
type flight struct {
	key    string
	x      exchange      // the first caller's, its request on the flight's own context
	done   chan struct{} // closed when the outcome is set
	cancel context.CancelFunc

	// Guarded by coalescer.mu.
	waiters int
	claimed bool        // the stream has been handed to a waiter, or closed
	timeout *time.Timer // the shared timeout, armed once a second caller joins

	// Set before done is closed.
	resp   *http.Response // the shared response, its Body nil
	body   []byte
	err    error
	stream *http.Response // a response not shared, for one waiter
}

// do runs send for x, or waits for an identical request's run and returns
// its response (see CoalesceOptions for who gets what).
func (c *coalescer) do(t *Transport, x *exchange, send step) (*http.Response, error) {
	req := x.req
	var buffer [512]byte
	identity := c.appendIdentity(buffer[:0], x)
	c.mu.Lock()
	if c.closed || c.passing(string(identity)) {
		c.mu.Unlock()
		return sendAlone(t, x, send)
	}
	f, joined := c.flights[string(identity)]
	if !joined {
		f = c.start(string(identity), x)
	}
	f.waiters++
	if f.waiters == 2 && f.timeout == nil {
		// Shared from now on: no one caller's deadline may hold up the
		// others, so the shared request gets its own.
		f.timeout = time.AfterFunc(c.timeout, f.cancel)
	}
	c.mu.Unlock()

	if !joined {
		if req.Context().Done() == nil {
			// A caller that cannot cancel has no reason to wait apart
			// from the shared request: it runs it itself.
			c.run(t, f, send)
			resp, _, err := c.collect(t, f, x, send)
			return resp, err
		}
		go c.run(t, f, send)
	}
	select {
	case <-f.done:
		resp, fromFlight, err := c.collect(t, f, x, send)
		if joined && fromFlight {
			markCollapsed(resp.Header)
			t.stats.collapsed.Add(1)
		}
		return resp, err
	case <-req.Context().Done():
		c.leave(f)
		return nil, req.Context().Err()
	}
}

// start registers a flight for key, to be run with run. c.mu is held. The
// flight's context keeps the first caller's values but not its
// cancellation, and gets no deadline while that caller is alone: a caller
// alone keeps its own context (see collect).
func (c *coalescer) start(key string, x *exchange) *flight {
	ctx, cancel := context.WithCancel(context.WithoutCancel(x.req.Context()))
	f := &flight{key: key, x: *x, done: make(chan struct{}), cancel: cancel}
	f.x.req = x.req.WithContext(ctx)
	c.flights[key] = f
	c.wg.Add(1)
	return f
}

// run performs the shared step and records its outcome.
func (c *coalescer) run(t *Transport, f *flight, send step) {
	defer c.wg.Done()
	key := f.key
	result, err := c.send(t, &f.x, send)
	resp := result.resp
	c.mu.Lock()
	if c.flights[key] == f {
		delete(c.flights, key) // no one joins from now on
	}
	alone := f.waiters <= 1
	c.mu.Unlock()
	switch {
	case err != nil:
		f.err = err
		f.cancel()
	case alone:
		// One caller waits: it gets the response as it is, streamed, with
		// nothing copied.
		f.stream = withCancelOnClose(resp, f.cancel)
	default:
		c.settle(f, result)
	}
	c.mu.Lock()
	if f.waiters == 0 {
		f.discardStream() // everyone has gone
	}
	if f.timeout != nil && f.stream == nil {
		f.timeout.Stop() // the shared body has been read, or it failed
	}
	close(f.done)
	c.mu.Unlock()
}

// send runs a step, turning a panic into an error for every waiter.
func (c *coalescer) send(t *Transport, x *exchange, send step) (result stepResult, err error) {
	defer func() {
		if p := recover(); p != nil {
			c.logger.LogAttrs(x.req.Context(), slog.LevelError, "httpcache: the upstream transport panicked",
				slog.String("url", t.logURL(x.req)), slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			result, err = stepResult{}, fmt.Errorf("httpcache: the upstream transport panicked: %v", p)
		}
	}()
	return send(t, x)
}

// settle decides whether a step's response is shared and reads its body if
// so.
func (c *coalescer) settle(f *flight, result stepResult) {
	resp := result.resp
	if !c.shareable(result) {
		c.mu.Lock()
		c.passFor(f.key)
		c.mu.Unlock()
		f.stream = withCancelOnClose(resp, f.cancel)
		return
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	if resp.ContentLength > c.maxBody {
		f.stream = withCancelOnClose(resp, f.cancel)
		return
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, addSizes(c.maxBody, 1)))
	if err != nil {
		resp.Body.Close()
		f.cancel()
		f.err = err
		return
	}
	if int64(len(body)) > c.maxBody {
		// Too large to share: one waiter gets it whole, read so far and rest.
		rest := resp.Body
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), rest), rest}
		f.stream = withCancelOnClose(resp, f.cancel)
		return
	}
	resp.Body.Close()
	f.cancel()
	resp.Body = nil
	f.resp, f.body = resp, body
}

// shareable reports whether a step's response may go to every identical
// request (see CoalesceOptions). A response that sets a cookie, or says
// no-store or private, is for the request that made it only: another
// caller would get that caller's session.
func (c *coalescer) shareable(result stepResult) bool {
	if c.all {
		return true
	}
	h := result.resp.Header
	if len(h["Set-Cookie"]) > 0 || len(h["Set-Cookie2"]) > 0 {
		return false
	}
	if cc := parseCacheControl(h); cc.noStore || cc.private {
		return false
	}
	return !c.shared || result.source.reusable()
}

// collect gives a waiter its outcome of a finished flight: the flight's
// response (fromFlight), or, when it was not shared and another waiter has
// it, the response to a request of the waiter's own.
func (c *coalescer) collect(t *Transport, f *flight, x *exchange, send step) (resp *http.Response, fromFlight bool, err error) {
	c.mu.Lock()
	f.waiters--
	takeStream := f.stream != nil && !f.claimed
	if takeStream {
		f.claimed = true
		if f.timeout != nil {
			f.timeout.Stop() // the stream is this caller's alone now
		}
	}
	c.mu.Unlock()
	switch {
	case f.err != nil:
		return nil, false, f.err
	case takeStream:
		// The body is this caller's: its own context governs it, and its
		// cancellation stops the read at once.
		stop := context.AfterFunc(x.req.Context(), f.cancel)
		f.stream.Body = &cancelOnClose{ReadCloser: f.stream.Body, cancel: func() { stop() }}
		f.stream.Request = x.req
		return f.stream, true, nil
	case f.stream != nil:
		resp, err := sendAlone(t, x, send)
		return resp, false, err
	}
	return f.copyFor(x.req), true, nil
}

// leave records that a waiter has gone. When the last has, a flight still
// running is cancelled, and a response nobody took is closed.
func (c *coalescer) leave(f *flight) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f.waiters--
	if f.waiters == 1 && f.timeout != nil {
		// Alone again, the caller keeps its own context: the shared
		// request's deadline goes, and a new joiner arms it afresh.
		f.timeout.Stop()
		f.timeout = nil
	}
	if f.waiters > 0 {
		return
	}
	select {
	case <-f.done:
		f.discardStream()
	default:
		if c.flights[f.key] == f {
			delete(c.flights, f.key) // later requests start afresh
		}
		f.cancel()
	}
}

// discardStream closes a response not shared that no waiter took. c.mu is
// held.
func (f *flight) discardStream() {
	if f.stream != nil && !f.claimed {
		f.claimed = true
		f.stream.Body.Close()
	}
}

// copyFor returns a waiter's own copy of the shared response: its own
// header map and body reader.
func (f *flight) copyFor(req *http.Request) *http.Response {
	resp := new(http.Response)
	*resp = *f.resp
	resp.Header = f.resp.Header.Clone()
	resp.Body = io.NopCloser(bytes.NewReader(f.body))
	resp.Request = req
	return resp
}

// markCollapsed adds "collapsed" to this cache's Cache-Status member, the
// last one (RFC 9211 §2.6: the request was collapsed with another).
func markCollapsed(h http.Header) {
	if values := h["Cache-Status"]; len(values) > 0 {
		values[len(values)-1] += "; collapsed"
	}
}

// appendIdentity appends the identity of x's request to b: method,
// storage key (the URL as sent, and the partition), Host, the header
// fields but those ignored, sorted, and the request's RequestOptions.
// Built in the caller's buffer, it costs no allocation unless a flight
// keeps it.
func (c *coalescer) appendIdentity(b []byte, x *exchange) []byte {
	req := x.req
	var nameBuffer [16]string
	names := nameBuffer[:0]
	for name := range req.Header {
		if !slices.Contains(c.ignored, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = append(b, x.key...)
	b = append(b, "\nHost: "...)
	b = append(b, req.Host...)
	for _, name := range names {
		for _, value := range req.Header[name] {
			b = append(b, '\n')
			b = append(b, name...)
			b = append(b, ": "...)
			b = append(b, value...)
		}
	}
	opts := x.options
	b = append(b, "\noptions: "...)
	b = strconv.AppendBool(b, opts.Refresh)
	b = strconv.AppendBool(b, opts.OnlyIfCached)
	b = strconv.AppendInt(b, int64(opts.MaxStale), 10)
	b = append(b, ' ')
	return strconv.AppendInt(b, int64(opts.TTL), 10)
}

// passing reports whether identical requests are not coalesced for now.
// c.mu is held.
func (c *coalescer) passing(key string) bool {
	until, ok := c.pass[key]
	if !ok {
		return false
	}
	if c.now().Before(until) {
		return true
	}
	delete(c.pass, key)
	return false
}

// passFor stops coalescing identical requests for a while. c.mu is held.
func (c *coalescer) passFor(key string) {
	now := c.now()
	if len(c.pass) >= maxPassKeys {
		for k, until := range c.pass {
			if !now.Before(until) {
				delete(c.pass, k)
			}
		}
		if len(c.pass) >= maxPassKeys {
			clear(c.pass)
		}
	}
	c.pass[key] = now.Add(coalescePass)
}

// close stops coalescing and waits for the flights running.
func (c *coalescer) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.wg.Wait()
}

// withCancelOnClose makes closing resp's body release its context.
func withCancelOnClose(resp *http.Response, cancel context.CancelFunc) *http.Response {
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
