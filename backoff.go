package httpcache

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Back-off: an origin that answers 429 or 503 with Retry-After has asked
// not to be sent requests until then. For that origin and partition, the
// cache sends none: a caller with a usable stored response gets it, any
// other the origin's last answer again, made by the cache, with
// Retry-After counting down. When the time is up, one request probes.

// Defaults of back-off.
const (
	// DefaultMaxRetryAfter caps the Retry-After the cache honours.
	DefaultMaxRetryAfter = 10 * time.Minute
	// maxReplayedBody bounds the body of an origin's answer kept to be
	// given again during a back-off; a larger one is given without body.
	maxReplayedBody = 16 << 10
	// maxBackoffScopes bounds the origins and partitions remembered.
	maxBackoffScopes = 4096
	// maxBackoffKeptBytes bounds the headers and bodies all scopes keep
	// for replay together; past it, an answer is replayed as its status
	// and Retry-After alone.
	maxBackoffKeptBytes = 4 << 20
)

// detailRetryAfter is the Cache-Status detail of a response made or served
// from storage because the origin asked not to be sent requests yet.
const detailRetryAfter = "retry-after"

// BackoffOptions configure back-off (WithBackoff).
type BackoffOptions struct {
	// Disabled turns back-off off: every request the cache cannot answer
	// goes to the origin, whatever it said.
	Disabled bool

	// MaxRetryAfter caps the Retry-After honoured. Zero means
	// DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration

	// StaleWindow lets a stored response answer during a back-off up to
	// this long after it went stale, beside its stale-if-error window.
	// Zero means only within stale-if-error.
	StaleWindow time.Duration
}

// WithBackoff configures back-off: after a 429 or 503 with Retry-After (in
// seconds or an HTTP date, capped by MaxRetryAfter), the cache sends no
// request to that origin, for that partition, until then. Callers with a
// usable stored response get it (within its stale-if-error window, or
// StaleWindow), with "retry-after" in Cache-Status's detail, and so does
// the request whose answer started the back-off; others get the origin's
// last answer again, made by the cache, with Retry-After counting down and
// no network request: whole for the URL it answered, its status and
// Retry-After alone for any other. When the time is up, one request probes
// the origin. On by default.
func WithBackoff(opts BackoffOptions) Option {
	return func(c *config) error {
		if opts.MaxRetryAfter < 0 || opts.StaleWindow < 0 {
			return fmt.Errorf("WithBackoff: negative duration in %+v", opts)
		}
		if opts.Disabled && (opts.MaxRetryAfter != 0 || opts.StaleWindow != 0) {
			return fmt.Errorf("WithBackoff: Disabled with other options, which then do nothing: %+v", opts)
		}
		c.backoff = opts
		return nil
	}
}

// backoff remembers, per origin and partition, until when the origin asked
// not to be sent requests.
type backoff struct {
	max    time.Duration
	stale  time.Duration
	shared bool // the cache's mode: a scope holds many users

	count atomic.Int64 // len(scopes), read without the lock

	// kept is the bytes of headers and bodies kept for replay.
	kept atomic.Int64

	mu     sync.Mutex
	scopes map[string]*backoffState
}

// keep charges n bytes of a replay to st, and reports false when that
// would pass maxBackoffKeptBytes.
func (b *backoff) keep(st *backoffState, n int64) bool {
	if b.kept.Add(n) > maxBackoffKeptBytes {
		b.kept.Add(-n)
		return false
	}
	st.kept.Add(n)
	if st.owner.Load() == nil { // forgotten meanwhile: charge nothing
		b.kept.Add(-st.kept.Swap(0))
		return false
	}
	return true
}

// forgetLocked removes a scope and what it kept. b.mu is held.
func (b *backoff) forgetLocked(scope string) {
	if st := b.scopes[scope]; st != nil {
		st.owner.Store(nil) // a body read later charges nothing, and is not kept
		b.kept.Add(-st.kept.Swap(0))
		delete(b.scopes, scope)
	}
}

// backoffState is one origin and partition backing off.
type backoffState struct {
	until  time.Time
	status int
	// answered is the request the origin answered: only a request like it
	// (its URL, partition and variant) gets the answer's header and body
	// again; any other gets its status alone (replay).
	answered answeredRequest
	header   http.Header
	// owner charges what the state keeps (nil once it is forgotten); kept
	// is what it was charged.
	owner atomic.Pointer[backoff]
	kept  atomic.Int64
	// body is the answer's body, once its caller has read it to its end
	// (replayBody); nil before, and for a body past maxReplayedBody.
	body atomic.Pointer[[]byte]
	// probing: a request is at the origin, the time being up, until
	// probeDeadline; past it (a probe that hung or panicked) another may go.
	probing       bool
	probeDeadline time.Time
}

// backoffProbeTimeout bounds how long a probe holds the others back.
const backoffProbeTimeout = 30 * time.Second

func newBackoff(opts BackoffOptions, shared bool) *backoff {
	if opts.Disabled {
		return nil
	}
	max := opts.MaxRetryAfter
	if max == 0 {
		max = DefaultMaxRetryAfter
	}
	return &backoff{max: max, stale: opts.StaleWindow, shared: shared, scopes: make(map[string]*backoffState)}
}

// backoffScope names the origin and partition of x's request, and the
// query tokens it authorizes with (fingerprinted: query_secrets.go): one
// user's 429 is never replayed to another, whether users are told apart by
// credential fields or by an access_token in the URL.
func backoffScope(x *exchange) string {
	u := x.req.URL
	scheme := lowerASCII(u.Scheme)
	b := make([]byte, 0, 64)
	b = append(b, scheme...)
	b = append(b, "://"...)
	b = append(b, normalizeHost(scheme, wireHost(x.req))...)
	b = append(b, x.keySuffix...)
	if _, query, found := strings.Cut(u.Opaque, "?"); found {
		b = x.querySecrets.appendSecretParts(b, query)
	}
	b = x.querySecrets.appendSecretParts(b, u.RawQuery)
	return string(b)
}

// holds reports whether requests of scope must not go to the origin now,
// with what the origin last answered. When the time is up, the first
// caller is let through to probe, and the others still held.
func (b *backoff) holds(scope string, now time.Time) (*backoffState, bool) {
	if !b.active() {
		return nil, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.scopes[scope]
	switch {
	case st == nil:
		return nil, false
	case now.Before(st.until) || (st.probing && now.Before(st.probeDeadline)):
		return st, true
	}
	st.probing, st.probeDeadline = true, now.Add(backoffProbeTimeout) // this caller probes
	return nil, false
}

// active reports whether any origin is backing off.
func (b *backoff) active() bool { return b != nil && b.count.Load() > 0 }

// backingOff reports whether requests of scope are held back at now,
// without claiming the probe that holds gives the first request once the
// time is up: a caller that will not send one must not hold the others
// back for backoffProbeTimeout.
func (b *backoff) backingOff(scope string, now time.Time) bool {
	if !b.active() {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.scopes[scope]
	return st != nil && now.Before(st.until)
}

// concerns reports whether a response (nil for a network error) may start
// or end a back-off, so that scopes are worked out only then.
func (b *backoff) concerns(resp *http.Response) bool {
	return b != nil && (b.active() || resp != nil &&
		(resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable))
}

// observe records what the origin answered a request of scope: a 429 or
// 503 with Retry-After starts (or extends) a back-off; anything else, a
// network error (resp nil) included, ends one. It replaces a recorded
// answer's body so that the caller still reads it whole.
func (b *backoff) observe(scope string, answered answeredRequest, resp *http.Response, now time.Time) {
	if b == nil {
		return
	}
	var wait time.Duration
	ok := false
	if resp != nil {
		wait, ok = retryAfter(resp, now)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	defer func() { b.count.Store(int64(len(b.scopes))) }()
	b.forgetLocked(scope)
	if !ok {
		return
	}
	if len(b.scopes) >= maxBackoffScopes {
		for k, st := range b.scopes {
			if !now.Before(st.until) {
				b.forgetLocked(k)
			}
		}
		if len(b.scopes) >= maxBackoffScopes {
			for k := range b.scopes {
				b.forgetLocked(k)
			}
		}
	}
	st := &backoffState{until: now.Add(min(wait, b.max)), status: resp.StatusCode, answered: answered}
	st.owner.Store(b)
	b.scopes[scope] = st
	if !b.keep(st, st.answered.size()) {
		// Over the budget: its status alone, to every request.
		st.answered = answeredRequest{varyStar: true}
		st.header = http.Header{}
		return
	}
	// The answer is replayed to every caller of the scope, for any URL of
	// the origin: other requests, and in a shared cache other users. What
	// may not be kept (no-store, §5.2.2.5) or is for one user (private in
	// a shared cache, §5.2.2.7) is replayed as its status alone.
	cc := parseCacheControl(resp.Header)
	if cc.noStore || b.shared && cc.private {
		st.header = http.Header{}
		return
	}
	st.header = resp.Header.Clone()
	removeHopByHop(st.header)
	delete(st.header, "Cache-Status")
	// Never a cookie (RFC 6265 §3), nor a field a qualified no-cache
	// keeps from other requests (§5.2.2.4).
	delete(st.header, "Set-Cookie")
	delete(st.header, "Set-Cookie2")
	for _, name := range cc.noCacheFields {
		delete(st.header, name)
	}
	size := headerSize(st.header)
	if b.kept.Load()+size > maxBackoffKeptBytes {
		// Back-offs that have ended hold their bytes until swept.
		for k, other := range b.scopes {
			if other != st && !now.Before(other.until) {
				b.forgetLocked(k)
			}
		}
	}
	if !b.keep(st, size) {
		st.header = http.Header{} // over the budget: the status alone
		return
	}
	keepSmallBody(resp, st)
}

// retryAfter returns the wait a 429 or 503 asks for (RFC 9110 §10.2.3):
// delay-seconds or an HTTP date.
func retryAfter(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0, false
	}
	value := strings.TrimSpace(fieldValue(resp.Header, "Retry-After"))
	if value == "" {
		return 0, false
	}
	if seconds, ok := parseDeltaSeconds(value); ok {
		return time.Duration(seconds) * time.Second, seconds > 0
	}
	if date := parseHTTPDate(value); !date.IsZero() && date.After(now) {
		return date.Sub(now), true
	}
	return 0, false
}

// keepSmallBody gives resp a body that keeps, for replay in st, what the
// caller reads of it when that is the whole body, up to maxReplayedBody.
// Nothing is read ahead of the caller: a slow body delays only its own
// reader.
func keepSmallBody(resp *http.Response, st *backoffState) {
	if resp.Body == nil || resp.Body == http.NoBody {
		return
	}
	resp.Body = &replayBody{ReadCloser: resp.Body, state: st}
}

// replayBody is an answer's body that, read to its end, stores a copy in
// its backoffState.
type replayBody struct {
	io.ReadCloser
	state *backoffState
	buf   []byte
	done  bool // stored, or too large to keep
}

func (r *replayBody) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if r.done {
		return n, err
	}
	if len(r.buf)+n > maxReplayedBody {
		r.done, r.buf = true, nil
		return n, err
	}
	r.buf = append(r.buf, p[:n]...)
	if err == io.EOF {
		body := r.buf
		if owner := r.state.owner.Load(); owner != nil && owner.keep(r.state, int64(len(body))) {
			r.state.body.Store(&body)
		}
		r.done, r.buf = true, nil
	}
	return n, err
}

// replayedBody is the body a replay of st sends.
func (st *backoffState) replayedBody() []byte {
	if body := st.body.Load(); body != nil {
		return *body
	}
	return nil
}

// answeredRequest is what a back-off keeps of the request whose answer
// started it, to tell which requests the answer may be replayed to
// whole: its storage key, and the variant the answer's Vary selects
// (RFC 9111 §4.1), Accept-Encoding included for a coded body.
type answeredRequest struct {
	key       string
	varyNames []string
	variant   string
	varyStar  bool // Vary: *, or a variant too long to keep: no request is like it
}

// answeredBy returns what a back-off keeps of x, answered with resp.
func answeredBy(x *exchange, resp *http.Response) answeredRequest {
	if resp == nil || x.key == "" {
		return answeredRequest{key: x.key}
	}
	names, star := contentVaryNames(resp.Header, contentCoding(resp.Header))
	variant := x.variant(names)
	a := answeredRequest{key: x.key, variant: variant, varyStar: star}
	if int64(len(variant))+varyNamesSize(names) > maxAnsweredVariant {
		// Not kept: every back-off would hold as much; the answer is
		// then replayed as its status alone, as to another request.
		return answeredRequest{key: x.key, varyStar: true}
	}
	// Copies: a name is a piece of the response's Vary line, which would
	// stay alive with it.
	a.varyNames = make([]string, len(names))
	for i, name := range names {
		a.varyNames[i] = strings.Clone(name)
	}
	return a
}

// size is what a keeps, as a back-off charges it (backoff.keep).
func (a *answeredRequest) size() int64 {
	return int64(len(a.key)+len(a.variant)) + varyNamesSize(a.varyNames)
}

func varyNamesSize(names []string) int64 {
	n := int64(0)
	for _, name := range names {
		n += int64(len(name)) + 16
	}
	return n
}

// maxAnsweredVariant bounds what a back-off keeps of the request it
// answered (answeredBy), beside its key.
const maxAnsweredVariant = 4 << 10

// answers reports whether the answer to a is the answer to x's request
// too: same key, and the same values of the fields its Vary names.
func (a *answeredRequest) answers(x *exchange) bool {
	return x.key != "" && x.key == a.key && !a.varyStar && x.variant(a.varyNames) == a.variant
}

// replay makes the origin's last answer again, with Retry-After counting
// down to the end of the back-off: whole to a request like the one it
// answered (answeredRequest.answers), its status alone to any other. The
// scope a back-off holds is the origin and partition, but an answer's
// header and body are for the request that got them: an API that carries
// its callers' keys in the path ("/v3/<key>") would replay one key's
// "quota exhausted for alice@example.com" to another key's URL, and one
// with Vary: X-Tenant one tenant's answer to another tenant.
func (t *Transport) replay(x *exchange, st *backoffState, now time.Time) *http.Response {
	header, body := http.Header{}, []byte(nil)
	if st.answered.answers(x) {
		header, body = st.header.Clone(), st.replayedBody()
	}
	remaining := max(st.until.Sub(now), 0)
	header.Set("Retry-After", strconv.FormatInt(int64((remaining+time.Second-1)/time.Second), 10))
	header.Set("Content-Length", strconv.Itoa(len(body)))
	// RFC 9211 §2.2: nothing went forward, and no stored response was
	// served: neither fwd nor hit, only why.
	setCacheStatus(header, t.cfg.name, CacheStatus{Detail: detailRetryAfter})
	t.logDecision(x.req, "backing off: the origin's last answer again", slog.Int("status", st.status))
	resp := storedResponse(x.req, st.status, header)
	resp.ContentLength = int64(len(body))
	if len(body) > 0 {
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	return &resp
}

// serveDuringBackoff answers x while its origin backs off: with the stored
// response when it may still answer (its stale-if-error window, or
// BackoffOptions.StaleWindow), and with the origin's last answer again
// otherwise. A request whose own directives refused the stored response
// (max-age, min-fresh, no-cache: RFC 9111 §5.2.1) does not get it here
// either: no stale window answers it (RFC 5861 §4), as on the network path.
func (t *Transport) serveDuringBackoff(x *exchange, st *backoffState) *http.Response {
	now := t.cfg.now()
	if resp, ok := t.storedDuringBackoff(x, now, CacheStatus{Hit: true}); ok {
		return resp
	}
	return t.replay(x, st, now)
}

// storedDuringBackoff answers x with its stored response when it may
// answer while the origin backs off (serveDuringBackoff), with status's
// Hit or Forward and the stored response's ttl.
func (t *Transport) storedDuringBackoff(x *exchange, now time.Time, status CacheStatus) (*http.Response, bool) {
	if x.stored == nil || x.decision.byRequest {
		return nil, false
	}
	d, ok := t.cfg.policy.mayServeStaleOnError(&x.request.directives, x.stored, x.facts, now)
	if !ok && t.backoff.stale > 0 && !t.cfg.policy.forbidsStale(&x.request.directives, x.facts) {
		ok = d.age-d.lifetime <= t.backoff.stale
	}
	if !ok {
		return nil, false
	}
	// RFC 9211 §2.1: stale, with a negative ttl, and why.
	status.TTL, status.HasTTL, status.Detail = d.ttl(), true, detailRetryAfter
	resp, err := t.serveStored(x, x.stored, nil, d.age, status)
	if err != nil {
		return nil, false
	}
	t.logDecision(x.req, "backing off: the stored response", slog.Duration("age", d.age))
	return resp, true
}

// serveStoredAsBackoffStarts answers x, whose request the origin has just
// answered with a back-off (a 429 or 503 with Retry-After, resp), as the
// back-off answers every request after it: with the stored response where
// it may answer. Without it, the one request that started the back-off
// got the 429 that the next one, a millisecond later, is spared (RFC 5861
// covers 500-504 only; promise 4 covers 429 too).
func (t *Transport) serveStoredAsBackoffStarts(x *exchange, resp *http.Response) (stepResult, bool) {
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable || !t.backoff.concerns(resp) {
		return stepResult{}, false
	}
	now := t.cfg.now()
	if !t.backoff.backingOff(backoffScope(x), now) {
		return stepResult{}, false
	}
	stored, ok := t.storedDuringBackoff(x, now, CacheStatus{Forward: x.forward, ForwardStatus: resp.StatusCode})
	if !ok {
		return stepResult{}, false
	}
	if resp.Body != nil {
		resp.Body.Close()
	}
	t.stats.backoff.Add(1)
	return stepResult{resp: stored, source: fromStorageOnError}, true
}

// observeOrigin lets the back-off see what the origin answered x (resp
// nil for a network error).
func (t *Transport) observeOrigin(x *exchange, resp *http.Response) {
	if t.backoff.concerns(resp) {
		t.backoff.observe(backoffScope(x), answeredBy(x, resp), resp, t.cfg.now())
	}
}
