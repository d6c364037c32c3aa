package httpcache

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Coalescing: identical requests in flight share one network step.

// Defaults of coalescing.
const (
	// DefaultCoalesceTimeout bounds how long a caller waits for an
	// identical request already at the origin.
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
// A caller alone gets its response as it is, streamed, and pays for
// coalescing no goroutine, context or timer. When others join it, the
// response is read whole (up to MaxBodyBytes) before any of them gets it,
// so they see its headers once its body has arrived. Waiters whose request
// shared another's see "collapsed" in Cache-Status.
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

	// Timeout bounds how long a caller waits for an identical request
	// already at the origin; past it, it sends its own. The request is the
	// first caller's, on that caller's own context: its deadline and
	// cancellation govern it as if it were alone. When that caller gives
	// up (its context ends), the others do not fail: they send their
	// request anew, one of them first. Zero means DefaultCoalesceTimeout.
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

// flight is one network step that identical requests share: the first
// caller's (the leader's), run on its own goroutine with its own request
// and context, which the others wait for. When the leader gives up (its
// context ends before the outcome), a waiter takes over as leader and
// sends its own request, in the same flight: the others keep waiting.
type flight struct {
	key string
	// leader is the first caller's exchange, copied: the step's own,
	// allocated with the flight.
	leader exchange

	// Guarded by coalescer.mu.
	waiters    int           // the callers in the flight until the outcome, the leader included
	done       chan struct{} // closed when the outcome is set, or the leader gave up; made when a caller joins
	needLeader bool          // the leader gave up: the next waiter to wake leads
	expired    chan struct{} // closed when the waiters have waited the coalescer's timeout
	timer      *time.Timer   // closes expired; armed when the first caller joins

	final atomic.Bool // the outcome is set; read without the lock once done is closed

	// Set before final.
	resp *http.Response // the shared response, its Body nil
	body []byte
	err  error
	own  bool // not shared: each waiter sends a request of its own
}

// do runs send for x, or waits for an identical request's run and returns
// its response (see CoalesceOptions for who gets what). A caller alone
// pays a flight record and its entry in the map: no channel, goroutine,
// context or timer.
func (c *coalescer) do(t *Transport, caller *exchange, send step) (*http.Response, error) {
	// The step runs on a copy of the caller's exchange, the leader's in
	// its flight record: passed to send, a func value, the exchange
	// escapes, and the caller's, on its stack for every request (hits
	// included), must not.
	var buffer [512]byte
	identity := c.appendIdentity(buffer[:0], caller)
	c.mu.Lock()
	if c.closed || c.passing(identity) {
		c.mu.Unlock()
		return sendAlone(t, caller, send)
	}
	if f, joined := c.flights[string(identity)]; joined {
		own := *caller
		x := &own
		f.waiters++
		if f.needLeader {
			f.needLeader = false
			c.mu.Unlock()
			return c.lead(t, f, x, send)
		}
		if f.done == nil {
			f.done = make(chan struct{}) // a leader alone needs none
		}
		if f.timer == nil {
			// One timer for all the waiters of the flight.
			expired := make(chan struct{})
			f.expired, f.timer = expired, time.AfterFunc(c.timeout, func() { close(expired) })
		}
		done, expired := f.done, f.expired
		c.mu.Unlock()
		return c.wait(t, f, done, expired, time.Now(), x, send)
	}
	f := &flight{key: string(identity), waiters: 1, leader: *caller}
	c.flights[f.key] = f
	c.mu.Unlock()
	return c.lead(t, f, &f.leader, send)
}

// lead runs the flight's step as its leader, and shares the outcome with
// those who joined meanwhile; or, when its own context ended the step and
// others wait, hands the flight to one of them.
func (c *coalescer) lead(t *Transport, f *flight, x *exchange, send step) (*http.Response, error) {
	result, err := c.send(t, x, send)
	c.mu.Lock()
	f.waiters--
	if err != nil && x.req.Context().Err() != nil && f.waiters > 0 {
		c.handOverLocked(f)
		return nil, err
	}
	if f.waiters == 0 {
		// Alone: the response as it is, streamed, nothing copied.
		c.endLocked(f)
		return result.resp, err
	}
	c.mu.Unlock()
	// Others wait. The flight stays open while the body is read, so that
	// callers who arrive meanwhile share it too.
	var resp *http.Response
	if err != nil {
		f.err = err
	} else {
		var gaveUp bool
		if resp, err, gaveUp = c.share(f, x, result); gaveUp {
			c.mu.Lock()
			if f.waiters > 0 {
				c.handOverLocked(f)
				return nil, err
			}
			c.endLocked(f)
			return nil, err
		}
	}
	c.mu.Lock()
	c.endLocked(f)
	return resp, err
}

// handOverLocked ends the leader's turn: the next waiter to wake leads,
// and the others wait for it. c.mu is held, and released.
func (c *coalescer) handOverLocked(f *flight) {
	f.needLeader = true
	round := f.done
	f.done = make(chan struct{})
	c.mu.Unlock()
	close(round)
}

// endLocked sets the flight's outcome, which no one joins after. c.mu is
// held, and released.
func (c *coalescer) endLocked(f *flight) {
	if c.flights[f.key] == f {
		delete(c.flights, f.key)
	}
	f.final.Store(true)
	if f.done != nil {
		close(f.done)
		f.timer.Stop()
	}
	c.mu.Unlock()
}

// share decides whether the leader's response goes to the waiters, reads
// its body if so, and returns the leader's own response; gaveUp when the
// leader's context ended the read, for another to lead.
func (c *coalescer) share(f *flight, x *exchange, result stepResult) (_ *http.Response, _ error, gaveUp bool) {
	resp := result.resp
	if !c.shareable(result) {
		c.mu.Lock()
		c.passFor(f.key)
		c.mu.Unlock()
		f.own = true
		return resp, nil, false
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	if resp.ContentLength > c.maxBody {
		f.own = true
		return resp, nil, false
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, addSizes(c.maxBody, 1)))
	if err != nil {
		resp.Body.Close()
		if x.req.Context().Err() != nil {
			return nil, err, true
		}
		f.err = err
		return nil, err, false
	}
	if int64(len(body)) > c.maxBody {
		// Too large to share: the leader gets it whole, read so far and
		// rest; the others make their own requests.
		rest := resp.Body
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), rest), rest}
		f.own = true
		return resp, nil, false
	}
	resp.Body.Close()
	resp.Body = nil
	f.resp, f.body = resp, body
	return f.copyFor(x.req), nil, false
}

// wait waits, as a caller that joined f, for the outcome, and returns the
// caller's: a copy of the shared response, or the response to a request
// of its own when the leader's was not shared or took longer than the
// coalescer's timeout. When the leader gives up, the first waiter to wake
// leads in its place.
func (c *coalescer) wait(t *Transport, f *flight, done, expired <-chan struct{}, joined time.Time, x *exchange, send step) (*http.Response, error) {
	var own <-chan time.Time // a timer of the caller's own, past the flight's
	for {
		select {
		case <-done:
		case <-expired:
			// The flight's timer, armed by the first caller to join: a
			// caller that joined later waits out its own time.
			if left := c.timeout - time.Since(joined); left > 0 {
				timer := time.NewTimer(left)
				defer timer.Stop()
				expired, own = nil, timer.C
				continue
			}
			c.leave(f)
			return sendAlone(t, x, send)
		case <-own:
			c.leave(f)
			return sendAlone(t, x, send)
		case <-x.req.Context().Done():
			c.leave(f)
			return nil, x.req.Context().Err()
		}
		if f.final.Load() {
			break // the outcome: read without the lock, by every waiter at once
		}
		c.mu.Lock()
		if f.final.Load() {
			c.mu.Unlock()
			break
		}
		if f.needLeader {
			f.needLeader = false
			c.mu.Unlock()
			return c.lead(t, f, x, send)
		}
		done = f.done // another waiter leads now: wait for it
		c.mu.Unlock()
	}
	switch {
	case f.err != nil:
		return nil, f.err
	case f.own:
		return sendAlone(t, x, send)
	}
	resp := f.copyFor(x.req)
	markCollapsed(resp.Header)
	t.stats.collapsed.Add(1)
	return resp, nil
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

// leave records that a waiter has gone. When the last of a flight whose
// leader gave up has, the flight goes: later requests start afresh.
func (c *coalescer) leave(f *flight) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f.waiters--
	if f.waiters == 0 && f.needLeader && c.flights[f.key] == f {
		delete(c.flights, f.key)
		f.timer.Stop()
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
func (c *coalescer) passing(identity []byte) bool {
	until, ok := c.pass[string(identity)] // no copy: an index by string(b)
	if !ok {
		return false
	}
	if c.now().Before(until) {
		return true
	}
	delete(c.pass, string(identity))
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

// close stops coalescing. Flights run on their callers' goroutines: none
// is left to wait for.
func (c *coalescer) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
}
