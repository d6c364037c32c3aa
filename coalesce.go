package httpcache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
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
// In a shared cache, a response that says no-cache is not shared either
// (it must be validated for each request), and the others never get the
// fields a qualified no-cache names, which storage withholds too.
//
// The first caller gets its response as it is, streamed as it arrives; a
// caller alone pays for coalescing no goroutine, context or timer. When
// others have joined, a copy of the body is kept as the first caller reads
// it (and drained on its Close, as for storing: WithBodyDrain), and the
// others get theirs once it is whole, up to MaxBodyBytes. A body larger,
// broken, or never whole leaves them to send their own requests, and so
// does an event stream (text/event-stream), at once. A flight whose body
// outlasts Timeout takes no more callers. Waiters whose request shared
// another's see "collapsed" in Cache-Status. At most 8 requests of other
// identities (other header fields) for one URL and partition lead flights
// at once; a request of yet another goes to the origin alone.
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
	// A waiter whose values of the fields the response names in Vary
	// differ from the first request's sends its own request, and a
	// Vary: * response is never shared.
	// Nil means DefaultCoalesceIgnoredHeaders; an empty, non-nil slice
	// ignores none. Credential fields (WithCredentialFields) cannot be
	// ignored, nor can the fields that make the answer another one
	// (unignorableFields: conditionals, ranges, Accept-Encoding).
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
		if opts.Disabled && (opts.All || opts.MaxBodyBytes != 0 || opts.Timeout != 0 || len(opts.IgnoreHeaders) > 0) {
			return errors.New("WithCoalescing: Disabled with other options, which then do nothing")
		}
		for _, name := range opts.IgnoreHeaders {
			if !isToken(name) {
				return fmt.Errorf("WithCoalescing: %q is not a header field name", name)
			}
			if slices.ContainsFunc(unignorableFields, func(field string) bool { return equalFoldASCII(field, name) }) {
				return fmt.Errorf("WithCoalescing: %s cannot be ignored: it makes the response another one (a 304, a 206, another coding)", name)
			}
		}
		c.coalesce = opts
		return nil
	}
}

// unignorableFields are the request fields that make the origin's answer
// another one for the same URL: a request without them that shared the
// answer to one with them would get a 304 it never asked for (RFC 9110
// §15.4.5), a part of the body (§14.2), or a content coding it cannot
// decode.
var unignorableFields = []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range", "Accept-Encoding"}

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
	drain   bodyDrain // what a leader's Close reads of a shared body
	timeout time.Duration
	now     func() time.Time
	logger  *slog.Logger

	// seed keys the identity hashes of hit-for-pass (identityHash):
	// random per coalescer, so that no caller can aim at another's
	// identity.
	seed maphash.Seed

	mu     sync.Mutex
	closed bool
	// flights are found by a hash of their storage key (keyHash), which
	// every request has at hand, and joined only by a request identical to
	// the flight's (identical): a request alone hashes nothing of its
	// header. Flights of other identities under one key (other header
	// fields), or of keys whose hashes collide, are chained through
	// flight.next.
	flights map[uint64]*flight
	pass    map[uint64]time.Time // identity hash → until when it is not coalesced
	// passCount is len(pass), read without the lock: a request computes
	// its identity hash only when some identity is passing.
	passCount atomic.Int64
	passSweep time.Time // when passing next removes the ended passes
}

func newCoalescer(cfg *config) *coalescer {
	opts := cfg.coalesce
	c := &coalescer{
		all:     opts.All,
		shared:  cfg.shared,
		maxBody: opts.MaxBodyBytes,
		drain:   cfg.drain,
		timeout: opts.Timeout,
		now:     cfg.now,
		logger:  cfg.logger,
		seed:    maphash.MakeSeed(),
		flights: make(map[uint64]*flight),
		pass:    make(map[uint64]time.Time),
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
	// keyHash is the hash of the storage key (coalescer.keyHash) the
	// flight is found by in coalescer.flights.
	keyHash uint64
	// next is the flight of another identity under the same key hash.
	// Guarded by coalescer.mu.
	next *flight
	// leader is the first caller's exchange, copied: the step's own,
	// allocated with the flight.
	leader exchange
	// identity is the exchange whose request the others must be identical
	// to (identical): the current leader's, while it leads. A leader that
	// gives up (handOverLocked) takes it away: its caller may reuse its
	// request once RoundTrip has returned, so no one joins by it; the
	// waiter that leads next puts its own. Guarded by coalescer.mu.
	identity *exchange

	// waiters are the callers in the flight until the outcome, the leader
	// included. Guarded by coalescer.mu.
	waiters int
	// joined is what the flight needs once a caller has joined it, made by
	// the first to join (flight.join): a request alone allocates a flight
	// of its exchange's size class (TestFlightFitsItsSizeClass), not one
	// larger. Set under coalescer.mu, and never again.
	joined *joinedFlight
}

// joinedFlight is the part of a flight that only callers who joined it
// need: their rendezvous with the leader, and the outcome it shares.
type joinedFlight struct {
	// Guarded by coalescer.mu.
	done       chan struct{} // closed when the outcome is set, or the leader gave up
	needLeader bool          // the leader gave up: the next waiter to wake leads
	expired    chan struct{} // closed when the waiters have waited the coalescer's timeout
	timer      *time.Timer   // closes expired; armed when the first caller joins

	final atomic.Bool // the outcome is set; read without the lock once done is closed

	// Set before final.
	resp *http.Response // the shared response, its Body nil
	body []byte
	err  error
	own  bool // not shared: each waiter sends a request of its own
	// varyNames are the fields the shared response varies on (its Vary,
	// and Accept-Encoding for a coded body), and variant the leader's
	// values of them: a waiter whose values differ, in a field the
	// coalescer ignores (IgnoreHeaders), sends a request of its own, as
	// storage would never answer it with that response (RFC 9111 §4.1).
	varyNames []string
	variant   string
}

// join adds a caller to the flight, and returns what it waits on. c.mu is
// held.
func (c *coalescer) join(f *flight) (done, expired <-chan struct{}) {
	f.waiters++
	if f.joined == nil {
		// One timer for all the waiters of the flight.
		expiry := make(chan struct{})
		f.joined = &joinedFlight{
			done:    make(chan struct{}),
			expired: expiry,
			timer:   time.AfterFunc(c.timeout, func() { close(expiry) }),
		}
	}
	return f.joined.done, f.joined.expired
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
	var hash uint64
	passChecked := c.passCount.Load() > 0
	if passChecked {
		hash = c.identityHash(caller)
	}
	keyHash := c.keyHash(caller.key)
	c.mu.Lock()
	if c.closed || (passChecked && c.passing(hash)) {
		c.mu.Unlock()
		return sendAlone(t, caller, send)
	}
	head := c.flights[keyHash]
	f, full := c.joinable(head, caller)
	if f != nil {
		own := *caller
		x := &own
		done, expired := c.join(f)
		c.mu.Unlock()
		return c.wait(t, f, done, expired, time.Now(), x, send)
	}
	if full {
		c.mu.Unlock()
		return sendAlone(t, caller, send)
	}
	f = &flight{keyHash: keyHash, next: head, waiters: 1, leader: *caller}
	f.identity = &f.leader
	c.flights[keyHash] = f
	c.mu.Unlock()
	return c.lead(t, f, &f.leader, send)
}

// keyHash is the hash flights are found by: of the storage key, keyed by
// the coalescer's seed, so that no caller can make its key collide with
// another's on purpose (a collision only costs a comparison).
func (c *coalescer) keyHash(key string) uint64 { return maphash.String(c.seed, key) }

// maxFlightsPerKey bounds the flights under one key hash (other
// identities of one URL, or keys whose hashes collide), which a request
// compares itself with under the coalescer's lock: one that finds as many,
// none identical to it, goes alone rather than start another. The many
// clients of a gateway, each with its own User-Agent, cost each request
// at most that many comparisons.
const maxFlightsPerKey = 8

// joinable returns the flight of the chain from head that x's request may
// join: one with a leader whose request is identical (identical); nil when
// there is none, and then full when the chain may take no other flight.
// c.mu is held.
func (c *coalescer) joinable(head *flight, x *exchange) (joined *flight, full bool) {
	n := 0
	for f := head; f != nil; f = f.next {
		if f.identity != nil && c.identical(f.identity, x) {
			return f, false
		}
		n++
	}
	return nil, n >= maxFlightsPerKey
}

// removeLocked takes f out of the flights, so that no one else joins it;
// it does nothing when f was taken out already. c.mu is held.
func (c *coalescer) removeLocked(f *flight) {
	key := f.keyHash
	head := c.flights[key]
	switch {
	case head == f && f.next == nil:
		delete(c.flights, key)
	case head == f:
		c.flights[key] = f.next
	default:
		for link := head; link != nil; link = link.next {
			if link.next == f {
				link.next = f.next
				break
			}
		}
	}
	f.next = nil
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
	if err != nil {
		f.joined.err = err // others joined: joined is made
		c.endLocked(f)
		return nil, err
	}
	c.mu.Unlock()
	return c.share(f, x, result), nil
}

// handOverLocked ends the leader's turn: the next waiter to wake leads,
// and the others wait for it. c.mu is held, and released.
func (c *coalescer) handOverLocked(f *flight) {
	j := f.joined // others wait: joined is made
	j.needLeader = true
	f.identity = nil // see flight.identity
	round := j.done
	j.done = make(chan struct{})
	c.mu.Unlock()
	close(round)
}

// endLocked sets the flight's outcome, which no one joins after. c.mu is
// held, and released.
func (c *coalescer) endLocked(f *flight) {
	c.removeLocked(f)
	if j := f.joined; j != nil { // else no one waits to be told
		j.final.Store(true)
		close(j.done)
		j.timer.Stop()
	}
	c.mu.Unlock()
}

// share decides whether the leader's response goes to the waiters, and
// returns the leader's own response. A shared one streams to the leader as
// it arrives, and a copy of its body, taken as the leader reads it (and
// drains it on Close, as for storing: capturingBody), goes to the waiters
// once it is whole. The flight stays open until then, so that callers who
// arrive meanwhile share it too, unless it outlasts the coalescer's
// timeout (retire). An event stream, which never ends, is not shared:
// each waiter sends its own request at once.
func (c *coalescer) share(f *flight, x *exchange, result stepResult) *http.Response {
	resp := result.resp
	cc, shareable := c.shareable(result)
	if !shareable {
		c.mu.Lock()
		c.passFor(c.identityHash(f.identity))
		f.joined.own = true
		c.endLocked(f)
		return resp
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	varyNames, varyStar := contentVaryNames(resp.Header, contentCoding(resp.Header))
	if resp.ContentLength > c.maxBody || isEventStream(resp.Header) || varyStar {
		// Too large to copy, a stream that does not end, or one that
		// answers no other request (Vary: *, §4.1): each waiter sends its
		// own request now rather than wait for the end.
		c.mu.Lock()
		f.joined.own = true
		c.endLocked(f)
		return resp
	}
	// The waiters' response, copied before the leader may change its own,
	// without the fields a qualified no-cache keeps from other requests
	// (RFC 9111 §5.2.2.4), as storage does.
	shared := *resp
	shared.Header = resp.Header.Clone()
	shared.Body = nil
	for _, name := range cc.noCacheFields {
		delete(shared.Header, name)
	}
	f.joined.resp = &shared
	if len(varyNames) > 0 {
		f.joined.varyNames, f.joined.variant = varyNames, x.variant(varyNames)
	}
	// The waiters get the bytes the leader got, whatever the length the
	// response declares (storage, below, holds it to that).
	resp.Body = newCapturingBody(resp.Body, -1, c.maxBody, c.drain,
		func(body []byte) { c.settle(f, body) },
		func(string) { c.abandon(f, x) })
	return resp
}

// settle ends f with the shared body, which every waiter gets a copy of.
func (c *coalescer) settle(f *flight, body []byte) {
	c.mu.Lock()
	f.joined.body = body
	c.endLocked(f)
}

// abandon ends f when the leader's body did not arrive whole: too large,
// broken, or closed before its end. When the leader's own context ended it
// and others wait, one of them leads in its place; otherwise each waiter
// sends its own request.
func (c *coalescer) abandon(f *flight, leader *exchange) {
	c.mu.Lock()
	if leader.req.Context().Err() != nil && f.waiters > 0 {
		c.handOverLocked(f)
		return
	}
	f.joined.own = true
	c.endLocked(f)
}

// wait waits, as a caller that joined f, for the outcome, and returns the
// caller's: a copy of the shared response, or the response to a request
// of its own when the leader's was not shared or took longer than the
// coalescer's timeout. When the leader gives up, the first waiter to wake
// leads in its place.
func (c *coalescer) wait(t *Transport, f *flight, done, expired <-chan struct{}, joinedAt time.Time, x *exchange, send step) (*http.Response, error) {
	j := f.joined            // made when the caller joined
	var own <-chan time.Time // a timer of the caller's own, past the flight's
	for {
		select {
		case <-done:
		case <-expired:
			// The flight's timer, armed by the first caller to join: a
			// caller that joined later waits out its own time.
			if left := c.timeout - time.Since(joinedAt); left > 0 {
				timer := time.NewTimer(left)
				defer timer.Stop()
				expired, own = nil, timer.C
				continue
			}
			c.retire(f)
			return sendAlone(t, x, send)
		case <-own:
			c.retire(f)
			return sendAlone(t, x, send)
		case <-x.req.Context().Done():
			c.leave(f)
			return nil, x.req.Context().Err()
		}
		if j.final.Load() {
			break // the outcome: read without the lock, by every waiter at once
		}
		c.mu.Lock()
		if j.final.Load() {
			c.mu.Unlock()
			break
		}
		if j.needLeader {
			j.needLeader = false
			f.identity = x
			c.mu.Unlock()
			return c.lead(t, f, x, send)
		}
		done = j.done // another waiter leads now: wait for it
		c.mu.Unlock()
	}
	// The leader's request was identical, not its exchange: a waiter whose
	// stale stored response may answer a failure (RFC 5861 §4) gets it,
	// though the leader had no such fallback (a background revalidation,
	// a miss before the entry was stored).
	switch {
	case j.err != nil:
		if stale, served := t.serveStaleOnError(x, nil, j.err); served {
			return stale.resp, nil
		}
		return nil, j.err
	case j.own, len(j.varyNames) > 0 && x.variant(j.varyNames) != j.variant:
		return sendAlone(t, x, send)
	}
	resp := f.copyFor(x.req)
	if stale, served := t.serveStaleOnError(x, resp, nil); served {
		return stale.resp, nil
	}
	markCollapsed(resp.Header)
	t.stats.collapsed.Add(1)
	return resp, nil
}

// send runs a step, turning a panic into an error for every waiter, so
// that none waits for a flight that will never end. The upstream's own
// panics are caught nearer (sendUpstream); one here is the step's.
func (c *coalescer) send(t *Transport, x *exchange, send step) (result stepResult, err error) {
	defer func() {
		if p := recover(); p != nil {
			result, err = stepResult{}, t.panicError(x.req, "a request's step", p)
		}
	}()
	return send(t, x)
}

// shareable reports whether a step's response may go to every identical
// request (see CoalesceOptions). A response that sets a cookie, or says
// no-store or private, is for the request that made it only: another
// caller would get that caller's session.
func (c *coalescer) shareable(result stepResult) (cacheControl, bool) {
	if c.all {
		return cacheControl{}, true // as it is, withheld fields too
	}
	h := result.resp.Header
	cc := parseCacheControl(h)
	if len(h["Set-Cookie"]) > 0 || len(h["Set-Cookie2"]) > 0 || cc.noStore || cc.private {
		return cc, false
	}
	if !c.shared {
		return cc, true
	}
	// In a shared cache, the others are other users: only what the cache
	// may reuse for them, and not a response that must be validated for
	// each request (§5.2.2.4).
	return cc, result.source.reusable() && !cc.noCacheUnqualified
}

// retire is leave for a waiter whose time ran out: the flight, which took
// longer than the coalescer's timeout (a leader that reads its body slowly,
// or never), takes no one else, so that later callers do not wait for it
// in turn.
func (c *coalescer) retire(f *flight) {
	c.mu.Lock()
	c.removeLocked(f)
	c.mu.Unlock()
	c.leave(f)
}

// leave records that a waiter has gone. When the last of a flight whose
// leader gave up has, the flight goes: later requests start afresh.
func (c *coalescer) leave(f *flight) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f.waiters--
	if f.waiters == 0 && f.joined.needLeader {
		c.removeLocked(f)
		f.joined.timer.Stop()
	}
}

// copyFor returns a waiter's own copy of the shared response: its own
// header map and body reader.
func (f *flight) copyFor(req *http.Request) *http.Response {
	resp := new(http.Response)
	*resp = *f.joined.resp
	resp.Header = f.joined.resp.Header.Clone()
	resp.Body = io.NopCloser(bytes.NewReader(f.joined.body))
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

// identityHash hashes the identity of x's request: method, storage key
// (the URL as sent, and the partition), Host, the header fields but those
// ignored, in any order, and the request's RequestOptions: what hit-for-pass
// (passFor, passing) keeps. Requests with one identity have one hash; a
// collision makes another identity go alone for a while, which costs
// coalescing, never isolation. Flights are not found by it (joinable). It
// allocates nothing.
func (c *coalescer) identityHash(x *exchange) uint64 {
	req := x.req
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(req.Method)
	h.WriteByte(0)
	h.WriteString(x.key)
	h.WriteByte(0)
	h.WriteString(req.Host)
	h.WriteByte(0)
	// The fields' own hashes, summed: the same whatever the map's order.
	var fields uint64
	for name, values := range req.Header {
		if c.counts(name, values) {
			fields += c.fieldHash(name, values)
		}
	}
	var sum [8]byte
	binary.LittleEndian.PutUint64(sum[:], fields)
	h.Write(sum[:])
	if x.options != (RequestOptions{}) {
		binary.LittleEndian.PutUint64(sum[:], maphash.Comparable(c.seed, x.options))
		h.Write(sum[:])
	}
	return h.Sum64()
}

// fieldHash hashes one header field: its name and its values.
func (c *coalescer) fieldHash(name string, values []string) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(name)
	for _, value := range values {
		h.WriteByte(0)
		h.WriteString(value)
	}
	return h.Sum64()
}

// counts reports whether a header field keeps requests apart: one with a
// value, not ignored. A key with no value is not sent.
func (c *coalescer) counts(name string, values []string) bool {
	return len(values) > 0 && !c.isIgnored(name)
}

// isIgnored reports whether a header map key names an ignored field, in
// any case: net/http sends req.Header["x-request-id"] as it is, and the
// origin reads it as X-Request-Id.
func (c *coalescer) isIgnored(name string) bool {
	if slices.Contains(c.ignored, name) {
		return true
	}
	if isCanonicalKey(name) {
		return false // the common case: canonical, and not one of them
	}
	return slices.ContainsFunc(c.ignored, func(ignored string) bool { return equalFoldASCII(ignored, name) })
}

// identical reports whether the requests of two exchanges are identical
// for coalescing: what identityHash hashes, compared exactly.
func (c *coalescer) identical(a, b *exchange) bool {
	if a.req.Method != b.req.Method || a.key != b.key || a.req.Host != b.req.Host || a.options != b.options {
		return false
	}
	return c.sameFields(a.req.Header, b.req.Header)
}

// sameFields reports whether two headers have the same fields, values in
// the same order, but those that do not count.
func (c *coalescer) sameFields(a, b http.Header) bool {
	fields := 0
	for name, values := range a {
		if !c.counts(name, values) {
			continue
		}
		if !slices.Equal(values, b[name]) {
			return false
		}
		fields++
	}
	for name, values := range b {
		if c.counts(name, values) {
			fields--
		}
	}
	return fields == 0
}

// passing reports whether requests of an identity hash are not coalesced
// for now. A collision makes another identity go alone for a while: no
// harm. c.mu is held.
func (c *coalescer) passing(hash uint64) bool {
	now := c.now()
	if !now.Before(c.passSweep) {
		// Every coalescePass, the ended passes go, so that passCount
		// falls to zero and requests stop hashing their identity.
		c.sweepPassesLocked(now)
		c.passSweep = now.Add(coalescePass)
	}
	until, ok := c.pass[hash]
	if !ok {
		return false
	}
	if now.Before(until) {
		return true
	}
	delete(c.pass, hash)
	c.passCount.Store(int64(len(c.pass)))
	return false
}

// sweepPassesLocked removes the passes that have ended. c.mu is held.
func (c *coalescer) sweepPassesLocked(now time.Time) {
	for k, until := range c.pass {
		if !now.Before(until) {
			delete(c.pass, k)
		}
	}
	c.passCount.Store(int64(len(c.pass)))
}

// passFor stops coalescing requests of an identity hash for a while. c.mu
// is held.
func (c *coalescer) passFor(hash uint64) {
	now := c.now()
	if len(c.pass) >= maxPassKeys {
		c.sweepPassesLocked(now)
		if len(c.pass) >= maxPassKeys {
			clear(c.pass)
		}
	}
	c.pass[hash] = now.Add(coalescePass)
	c.passCount.Store(int64(len(c.pass)))
}

// close stops coalescing. Flights run on their callers' goroutines: none
// is left to wait for.
func (c *coalescer) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
}

// isEventStream reports a response of server-sent events (text/event-stream),
// whose body lasts as long as the connection.
func isEventStream(h http.Header) bool {
	mediaType, _, _ := strings.Cut(fieldValue(h, "Content-Type"), ";")
	return equalFoldASCII(strings.TrimSpace(mediaType), "text/event-stream")
}
