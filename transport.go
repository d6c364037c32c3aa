package httpcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
)

// Transport is an http.RoundTripper that caches responses as RFC 9111
// describes. Set it as an http.Client's Transport, or wrap another client's
// transport with WithTransport. It is safe for concurrent use.
//
// Every response it returns carries a Cache-Status header (RFC 9211) whose
// last member says what the cache did; StatusOf reads it.
type Transport struct {
	cfg config
	// storage is how the configured Storage is read and written.
	storage storageAccess
	// background runs stale-while-revalidate revalidations.
	background *background
	// coalescer shares network steps among identical requests; nil when
	// coalescing is off.
	coalescer *coalescer
	// writes runs storage writes behind the requests; nil when the
	// Storage is wholly in memory, which stores at once.
	writes *writeBehind
	// storageErrors logs storage errors without flooding the log.
	storageErrors *storageErrorLog
	// partitions names the partitions of requests (partition.go).
	partitions *partitioner
	// querySecrets fingerprints the values of secret query parameters in
	// storage keys (query_secrets.go).
	querySecrets *querySecrets
	// failedDeletes remembers deletes the Storage did not confirm.
	failedDeletes *failedDeletes
	// backoff holds requests to origins that asked to wait (Retry-After);
	// nil when off.
	backoff *backoff
	// stats are the counters Stats reports.
	stats stats
}

// New returns a caching Transport. With no options it is a private cache in
// memory (DefaultMemoryBytes) in front of http.DefaultTransport.
//
// New panics on an invalid option, with an error that names it, as
// regexp.MustCompile does: options are fixed when a program is written. Use
// NewTransport to get the error instead, for options built at run time.
func New(opts ...Option) *Transport {
	t, err := NewTransport(opts...)
	if err != nil {
		panic(err)
	}
	return t
}

// NewTransport is New that reports an invalid option as an error.
func NewTransport(opts ...Option) (*Transport, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("httpcache: nil Option")
		}
		if err := opt(&cfg); err != nil {
			return nil, fmt.Errorf("httpcache: %w", err)
		}
	}
	if cfg.storage == nil {
		cfg.storage = NewMemoryStorage(DefaultMemoryBytes)
	}
	cfg.policy.shared = cfg.shared
	cfg.silent = cfg.logger.Handler() == slog.DiscardHandler
	if cfg.systemClock {
		cfg.now = new(systemClock).now
	}
	settleCredentialFields(&cfg)
	if err := cfg.coalesce.checkIgnored(cfg.credentialFields); err != nil {
		return nil, fmt.Errorf("httpcache: %w", err)
	}
	if err := settleQueryKeying(&cfg); err != nil {
		return nil, fmt.Errorf("httpcache: %w", err)
	}
	secret := partitionSecret(&cfg)
	t := &Transport{
		failedDeletes: newFailedDeletes(),
		backoff:       newBackoff(cfg.backoff, cfg.shared),
		partitions:    newPartitioner(cfg.credentialFields, cfg.partition, secret, !cfg.sharedBackends),
		querySecrets:  newQuerySecrets(cfg.redacted, secret),
		cfg:           cfg,
		storage:       newStorageAccess(cfg.storage),
		background:    newBackground(cfg.backgroundLimit, cfg.backgroundTimeout),
	}
	t.storageErrors = newStorageErrorLog(cfg.logger, redactor{params: cfg.redacted}, t.stats.countStorageError)
	if !cfg.coalesce.Disabled {
		t.coalescer = newCoalescer(&t.cfg)
	}
	if t.storage.behind.Storage != nil && !cfg.synchronousWrites {
		t.writes = newWriteBehind()
	}
	return t, nil
}

// partitionSecret returns the secret partitions are fingerprinted with:
// the configured one, else the Storage's, else a new one.
func partitionSecret(cfg *config) []byte {
	if cfg.partitionSecret != nil {
		return cfg.partitionSecret
	}
	if keeper, ok := cfg.storage.(PartitionSecretKeeper); ok {
		if secret := keeper.PartitionSecret(); len(secret) >= minPartitionSecret {
			return secret
		}
	}
	return newPartitionSecret()
}

// Close stops the Transport's background work: it starts no more
// stale-while-revalidate revalidations, cancels those that run, and waits
// for them to end, stops coalescing (shared requests run on their
// callers' goroutines, which Close does not wait for), and waits for
// entries still waiting to be written to the Storage (see WithStorage),
// up to WithCloseTimeout (DefaultCloseTimeout) plus one storage call;
// entries still queued then are not stored, and Close logs how many. It
// stops retrying failed deletes. Call it before the program exits: entries
// written behind the requests are lost with a process that exits without
// Close (log.Fatal, os.Exit) or is killed, unless WithSynchronousWrites is
// set. The Transport still answers requests after Close, but revalidates
// stale responses before serving them, no longer coalesces requests, and
// writes entries before it returns them. Close does not close the
// Storage, which the caller may share.
func (t *Transport) Close() error {
	if t == nil || t.partitions == nil {
		return nil // not made by New: nothing runs
	}
	if t.background != nil {
		t.background.close()
	}
	if t.coalescer != nil {
		t.coalescer.close()
	}
	if t.writes != nil {
		if dropped := t.writes.close(t.cfg.closeTimeout); dropped > 0 {
			t.cfg.logger.LogAttrs(context.Background(), slog.LevelWarn, "httpcache: Close timed out; entries not stored",
				slog.Int("dropped", dropped), slog.Duration("timeout", t.cfg.closeTimeout))
		}
	}
	t.failedDeletes.close()
	return nil
}

// Invalidate removes every stored variant of a URL, as a successful unsafe
// request to it would (RFC 9111 §4.4).
func (t *Transport) Invalidate(ctx context.Context, rawURL string) error {
	if err := t.check(); err != nil {
		return err
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("httpcache: Invalidate: %w", err)
	}
	if !u.IsAbs() {
		return fmt.Errorf("httpcache: Invalidate: %q is not an absolute URL", rawURL)
	}
	return t.deleteURL(ctx, t.urlKey(u))
}

// errNotMade is returned by a Transport that New or NewTransport did not
// make, such as a zero Transport.
var errNotMade = errors.New("httpcache: the Transport was not made by New or NewTransport")

// check reports a Transport that cannot work.
func (t *Transport) check() error {
	if t == nil || t.partitions == nil {
		return errNotMade
	}
	return nil
}

// RoundTrip answers req from the cache where RFC 9111 allows, and from the
// upstream transport otherwise, storing what may be reused. A response
// answered from storage has no TLS state (resp.TLS is nil): it came over
// no connection.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if t.cfg.responseHook != nil {
		return t.roundTripReported(req)
	}
	return t.roundTrip(req)
}

// roundTrip is RoundTrip on a Transport that was made.
func (t *Transport) roundTrip(req *http.Request) (*http.Response, error) {
	if req == nil || req.URL == nil {
		return nil, errors.New("httpcache: RoundTrip: the request has no URL")
	}
	if req.Method == "" {
		// net/http sends an empty method as GET; so the cache treats it.
		r := *req
		r.Method = http.MethodGet
		req = &r
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		if t.onlyIfCached(req) {
			// Nothing is stored for this method: RFC 9111 §5.2.1.7's 504,
			// and the request, unsafe or not, is not sent.
			closeRequestBody(req)
			return t.gatewayTimeout(req, ForwardMethod), nil
		}
		if isUnsafe(req.Method) {
			return t.forwardUnsafe(req)
		}
		return t.forward(req, CacheStatus{Forward: ForwardMethod})
	}
	req = probeBody(req) // a body of unknown length: content or none?
	var x exchange
	t.readExchange(&x, req)
	if x.request.nonCanonicalKeys {
		req = withCanonicalKeys(req)
		x.req = req
	}
	if err := x.options.validate(); err != nil {
		closeRequestBody(req)
		return nil, err
	}
	// A request whose wire identity cannot be keyed exactly (keyable)
	// must never find another's entry.
	if x.request.bypass() || x.options.Bypass || !keyable(req) ||
		(len(t.cfg.rules) > 0 && t.cfg.rules.bypasses(req.Method, wireHost(req), req.URL.Path)) {
		return t.forwardBypass(&x, ForwardBypass)
	}
	var keyBuffer [256]byte
	key := x.appendKey(keyBuffer[:0])
	stored, now := t.findStored(&x, key)
	if x.request.hasRange && (stored == nil || req.Method != http.MethodGet) {
		// Nothing to take a range from.
		forward := ForwardURIMiss
		switch {
		case stored != nil:
			forward = ForwardMiss // a HEAD: a stored GET has no range of it
		case x.varyMiss:
			forward = ForwardVaryMiss
		}
		return t.forwardBypass(&x, forward)
	}
	if stored == nil {
		x.forward = ForwardURIMiss
		if x.varyMiss {
			x.forward = ForwardVaryMiss
		}
		return t.fromOrigin(&x, key, (*Transport).fetch)
	}
	x.stored = stored
	x.facts = t.factsFor(&x, stored)
	x.decision = t.cfg.policy.evaluate(&x.request.directives, stored, x.facts, now)
	if x.request.hasRange {
		if _, checked := stored.Body.(BytesBody); x.decision.action != actionServe || stored.StatusCode != http.StatusOK || !checked {
			// A range of what the origin has now. A body streamed from a
			// file is checked as it ends, which a range may not reach.
			forward := ForwardMiss
			if x.decision.action != actionServe {
				forward = x.decision.forward
			}
			return t.forwardBypass(&x, forward)
		}
		return t.serveRange(&x, CacheStatus{Hit: true, TTL: x.decision.ttl(), HasTTL: true})
	}
	switch x.decision.action {
	case actionServe:
		status := CacheStatus{Hit: true, TTL: x.decision.ttl(), HasTTL: true}
		return t.serveHit(&x, key, status)
	case actionServeStale:
		// RFC 5861 §3: serve it now, revalidate it in the background. RFC
		// 9211 §2.1: a hit is not forwarded, so its Cache-Status is hit
		// with a negative ttl (§2.3), not fwd=stale.
		if t.revalidateInBackground(&x, key) {
			status := CacheStatus{Hit: true, TTL: x.decision.ttl(), HasTTL: true}
			return t.serveHit(&x, key, status)
		}
		x.decision.forward = ForwardStale // closed: revalidate now
	}
	x.forward = x.decision.forward
	x.staleFallback = x.forward == ForwardStale && !x.decision.byRequest
	return t.fromOrigin(&x, key, (*Transport).revalidate)
}

// serveHit answers a request from its stored response without going to
// the origin, unless the stored body cannot be read: then it is fetched as
// on a miss.
func (t *Transport) serveHit(x *exchange, key []byte, status CacheStatus) (*http.Response, error) {
	resp, err := t.serveStored(x, x.stored, nil, x.decision.age, status)
	if err == errUnreadableBody {
		x.forward = ForwardURIMiss
		return t.fromOrigin(x, key, (*Transport).fetchAfterUnreadableBody)
	}
	t.stats.countHit(status, resp)
	return resp, err
}

// fromOrigin runs a network step for x, whose storage key is key, unless
// the client forbids it (only-if-cached: RFC 9111 §5.2.1.7).
func (t *Transport) fromOrigin(x *exchange, key []byte, send step) (*http.Response, error) {
	if x.request.directives.onlyIfCached {
		closeRequestBody(x.req) // not sent: RoundTrip closes it all the same
		return t.gatewayTimeout(x.req, x.forward), nil
	}
	x.key = string(key)
	if t.backoff.active() {
		if st, held := t.backoff.holds(backoffScope(x), t.cfg.now()); held {
			t.stats.backoff.Add(1)
			return t.serveDuringBackoff(x, st), nil
		}
	}
	t.stats.countForward(x.forward)
	return t.network(x, send)
}

// network runs a network step for x, shared with identical requests in
// flight when coalescing is on. x may be on the caller's stack: the step
// runs on a copy (sendAlone, or the shared step's own), so x does not
// escape.
func (t *Transport) network(x *exchange, send step) (*http.Response, error) {
	if t.coalescer == nil {
		return sendAlone(t, x, send)
	}
	return t.coalescer.do(t, x, send)
}

// sendAlone runs a step for x alone, on a copy of x.
func sendAlone(t *Transport, x *exchange, send step) (*http.Response, error) {
	own := *x
	result, err := send(t, &own)
	return result.resp, err
}

// ruleFor returns the rule that applies to x's request and a response
// status: the Override rule of a per-request TTL, or the first configured
// rule that matches; nil when none does.
func (t *Transport) ruleFor(x *exchange, status int) *compiledRule {
	if x.optionRule != nil {
		return x.optionRule
	}
	return t.cfg.rules.match(x.req.Method, wireHost(x.req), x.req.URL.Path, status)
}

// factsFor returns an entry's facts as the rule that applies to x's
// request amends them. The amended facts are kept on the entry, so that a
// hit does not amend them again.
func (t *Transport) factsFor(x *exchange, e *Entry) *responseFacts {
	if x.optionRule == nil && len(t.cfg.rules) == 0 {
		return t.cfg.policy.targetedFacts(e.responseFacts(), e.Header)
	}
	return t.factsWithRule(e, t.ruleFor(x, e.StatusCode))
}

// factsWithRule returns an entry's facts, with a targeted field's
// directives where this cache obeys one (targeted.go), as rule amends
// them. Without a targeted field, the amended facts are kept on the entry
// for the next hit under the same rule.
func (t *Transport) factsWithRule(e *Entry, rule *compiledRule) *responseFacts {
	plain := e.responseFacts()
	f := t.cfg.policy.targetedFacts(plain, e.Header)
	if rule == nil {
		return f
	}
	if cached := e.ruled.Load(); cached != nil && cached.rule.same(rule) && f == plain {
		return cached
	}
	amended := t.cfg.policy.withRule(f, rule)
	if f == plain {
		e.ruled.Store(amended)
	}
	return amended
}

// forwardBypass sends a GET or HEAD the cache does not answer from
// storage, forward saying why (a bypass, or a Range it cannot take from
// what it stores: nothing stored, stale, or a body it cannot take a range
// of), unless only-if-cached forbids the network (RFC 9111 §5.2.1.7): then
// the answer is a 504, with forward as the reason.
func (t *Transport) forwardBypass(x *exchange, forward string) (*http.Response, error) {
	if x.request.directives.onlyIfCached {
		closeRequestBody(x.req) // not sent: RoundTrip closes it all the same
		return t.gatewayTimeout(x.req, forward), nil
	}
	return t.forward(x.req, CacheStatus{Forward: forward})
}

// forward sends a request the cache does not handle and marks the response.
func (t *Transport) forward(req *http.Request, status CacheStatus) (*http.Response, error) {
	t.logDecision(req, "forward", slog.String("fwd", status.Forward))
	t.stats.countPassed(status.Forward)
	resp, err := t.sendUpstream(req)
	if err != nil {
		return nil, err
	}
	status.ForwardStatus = resp.StatusCode
	setCacheStatus(ensureHeader(resp), t.cfg.name, status)
	return resp, nil
}

// onlyIfCached reports whether a request of a method the cache stores
// nothing for asks for a stored response only: Cache-Control:
// only-if-cached (§5.2.1.7), under a map key of any case, or
// RequestOptions.OnlyIfCached.
func (t *Transport) onlyIfCached(req *http.Request) bool {
	if requestOptionsFrom(req.Context()).OnlyIfCached {
		return true
	}
	var r cacheRequest
	readRequestInto(&r, req, t.partitions)
	return r.directives.onlyIfCached
}

// forwardUnsafe sends a request with an unsafe method and, when it
// succeeds, invalidates what it may have changed (RFC 9111 §4.4).
func (t *Transport) forwardUnsafe(req *http.Request) (*http.Response, error) {
	resp, err := t.forward(req, CacheStatus{Forward: ForwardMethod})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		for _, u := range invalidatedURLs(effectiveURL(req), resp.Header) {
			t.removeURL(req, t.urlKey(u))
		}
	}
	return resp, nil
}

// logURL is a request's URL as logs show it (redact.go).
func (t *Transport) logURL(req *http.Request) string {
	return t.storageErrors.redact.url(req.URL)
}

func (t *Transport) logDecision(req *http.Request, msg string, attrs ...slog.Attr) {
	if t.cfg.silent {
		return
	}
	ctx := req.Context()
	if !t.cfg.logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs = append(attrs, slog.String("method", req.Method), slog.String("url", t.logURL(req)))
	t.cfg.logger.LogAttrs(ctx, slog.LevelDebug, "httpcache: "+msg, attrs...)
}

// ensureHeader returns resp.Header, making one if the upstream sent nil.
func ensureHeader(resp *http.Response) http.Header {
	if resp.Header == nil {
		resp.Header = make(http.Header)
	}
	return resp.Header
}

// discard reads a body to its end, bounded, and closes it, so that its
// connection can be reused.
func discard(body io.ReadCloser) {
	if body == nil || body == http.NoBody {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 1<<20))
	body.Close()
}
