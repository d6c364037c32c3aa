package httpcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Transport is an http.RoundTripper that caches responses as RFC 9111
// describes. Set it as an http.Client's Transport, or wrap another client's
// transport with WithTransport. It is safe for concurrent use.
//
// Every response it returns carries a Cache-Status header (RFC 9211) whose
// last member says what the cache did; StatusOf reads it.
type Transport struct {
	cfg config
	// err is a configuration error from New: every request then fails
	// with it, so that a mistake is seen at once rather than ignored.
	err error
	// memory is the storage when it is a MemoryStorage: hits look keys up
	// without copying them.
	memory *MemoryStorage
	// local: the storage is in this process or on a local disk
	// (MemoryStorage, DiskStorage). Its calls do not wait on a network, and
	// a context could not interrupt them: they get no timeout.
	local bool
	// background runs stale-while-revalidate revalidations.
	background *background
	// coalescer shares network steps among identical requests; nil when
	// coalescing is off.
	coalescer *coalescer
	// writes runs storage writes behind the requests; nil for a
	// MemoryStorage, which stores at once.
	writes *writeBehind
	// storageErrors logs storage errors without flooding the log.
	storageErrors *storageErrorLog
	// tiered is the storage when it is a TieredStorage: hits on its memory
	// tier get no timeout, and its memory tier is written at once.
	tiered *TieredStorage
}

// New returns a caching Transport. With no options it is a private cache in
// memory (DefaultMemoryBytes) in front of http.DefaultTransport.
//
// An invalid option makes every request through the Transport fail with an
// error that names it; use NewTransport to check options when the program
// starts.
func New(opts ...Option) *Transport {
	t, err := NewTransport(opts...)
	if err != nil {
		return &Transport{err: err}
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
	memory, _ := cfg.storage.(*MemoryStorage)
	_, disk := cfg.storage.(*DiskStorage)
	tiered, _ := cfg.storage.(*TieredStorage)
	t := &Transport{cfg: cfg, memory: memory, local: memory != nil || disk, storageErrors: newStorageErrorLog(cfg.logger), tiered: tiered,
		background: newBackground(cfg.backgroundLimit, cfg.backgroundTimeout)}
	if !cfg.coalesce.Disabled {
		t.coalescer = newCoalescer(&t.cfg)
	}
	if memory == nil {
		t.writes = newWriteBehind()
	}
	return t, nil
}

// Close stops the Transport's background work: it starts no more
// stale-while-revalidate revalidations, cancels those that run, and waits
// for them to end, for shared requests to the origin to end, and for
// entries still waiting to be written to the Storage (see WithStorage).
// Call it before the program exits. The Transport still answers requests
// after Close, but revalidates stale responses before serving them, no
// longer coalesces requests, and writes entries before it returns them.
// Close does not close the Storage, which the caller may share.
func (t *Transport) Close() error {
	if t.background != nil {
		t.background.close()
	}
	if t.coalescer != nil {
		t.coalescer.close()
	}
	if t.writes != nil {
		t.writes.close()
	}
	return nil
}

// network runs a network step of req, shared with identical requests in
// flight when coalescing is on.
func (t *Transport) network(req *http.Request, send step) (*http.Response, error) {
	if t.coalescer == nil {
		return send(req)
	}
	return t.coalescer.do(req, send)
}

// Invalidate removes every stored variant of a URL, as a successful unsafe
// request to it would (RFC 9111 §4.4).
func (t *Transport) Invalidate(ctx context.Context, rawURL string) error {
	if t.err != nil {
		return t.err
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("httpcache: Invalidate: %w", err)
	}
	if !u.IsAbs() {
		return fmt.Errorf("httpcache: Invalidate: %q is not an absolute URL", rawURL)
	}
	// After the writes queued before it, so that none brings the URL back.
	var deleteErr error
	t.inOrder(func() {
		ctx, cancel := t.storageContext(ctx)
		defer cancel()
		deleteErr = t.cfg.storage.Delete(ctx, cacheKey(u))
	})
	return deleteErr
}

// RoundTrip answers req from the cache where RFC 9111 allows, and from the
// upstream transport otherwise, storing what may be reused.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.err != nil {
		return nil, t.err
	}
	if isUnsafe(req.Method) {
		return t.forwardUnsafe(req)
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return t.forward(req, CacheStatus{Forward: ForwardMethod})
	}
	opts := requestOptionsFrom(req.Context())
	if err := opts.validate(); err != nil {
		return nil, err
	}
	r := readRequest(req)
	if r.bypass() || opts.Bypass || (len(t.cfg.rules) > 0 && t.cfg.rules.bypasses(req.Method, req.URL)) {
		return t.forward(req, CacheStatus{Forward: ForwardBypass})
	}
	if opts.Refresh {
		r.directives.noCache = true // as a client's no-cache (§5.2.1.4)
	}
	reqCC := r.directives
	var keyBuffer [256]byte
	keyBytes := appendCacheKey(keyBuffer[:0], req.URL)
	entries := t.load(req.Context(), keyBytes)
	private := !t.cfg.shared
	entry, varyMiss := selectVariant(entries, req, private, private && r.hasCredentials)
	if entry == nil {
		forward := ForwardURIMiss
		if varyMiss {
			forward = ForwardVaryMiss
		}
		if reqCC.onlyIfCached {
			return t.gatewayTimeout(req, forward), nil
		}
		key := string(keyBytes)
		return t.network(req, func(req *http.Request) (*http.Response, error) {
			return t.fetch(req, key, nil, forward, nil)
		})
	}
	facts := entry.responseFacts()
	if opts.TTL > 0 || len(t.cfg.rules) > 0 {
		facts = t.factsFor(entry, t.ruleFor(req, opts, entry.StatusCode))
	}
	d := t.cfg.policy.evaluate(reqCC, entry, facts, t.cfg.now())
	if d.action == actionServe {
		status := CacheStatus{Hit: true, TTL: d.ttl(), HasTTL: true}
		return t.serveStored(req, r.conditional, entry, d.age, status)
	}
	return t.serveStale(req, &r, keyBytes, entry, facts, d)
}

// serveStale answers with an entry that may not be served as it is: stale
// at once while it is revalidated in the background (RFC 5861 §3), or after
// revalidating it, with the stale entry as a fallback should the origin
// fail (RFC 5861 §4).
func (t *Transport) serveStale(req *http.Request, r *cacheRequest, key []byte, entry *Entry, facts *responseFacts, d decision) (*http.Response, error) {
	if d.action == actionServeStale {
		if t.revalidateInBackground(req, key, entry) {
			status := CacheStatus{Hit: true, Forward: ForwardStale, TTL: d.ttl(), HasTTL: true}
			return t.serveStored(req, r.conditional, entry, d.age, status)
		}
		d.forward = ForwardStale // closed: revalidate now
	}
	if r.directives.onlyIfCached {
		return t.gatewayTimeout(req, d.forward), nil
	}
	var fallback *staleFallback
	if d.forward == ForwardStale {
		fallback = &staleFallback{reqCC: r.directives, entry: entry, facts: facts}
	}
	keyString := string(key)
	return t.network(req, func(req *http.Request) (*http.Response, error) {
		return t.revalidate(req, keyString, entry, d, fallback)
	})
}

// ruleFor returns the rule that applies to a request and a response status:
// the Override rule of a per-request TTL, or the first configured rule that
// matches; nil when none does.
func (t *Transport) ruleFor(req *http.Request, opts RequestOptions, status int) *compiledRule {
	if r := opts.rule(); r != nil {
		return r
	}
	return t.cfg.rules.match(req.Method, req.URL, status)
}

// factsFor returns an entry's facts as a rule amends them. The amended
// facts are kept on the entry, so that a hit does not amend them again.
func (t *Transport) factsFor(e *Entry, rule *compiledRule) *responseFacts {
	f := e.responseFacts()
	if rule == nil {
		return f
	}
	if cached := e.ruled.Load(); cached != nil && cached.rule.same(rule) {
		return cached
	}
	amended := f.withRule(rule, t.cfg.shared)
	e.ruled.Store(amended)
	return amended
}

// forward sends a request the cache does not handle and marks the response.
func (t *Transport) forward(req *http.Request, status CacheStatus) (*http.Response, error) {
	t.logDecision(req, "forward", slog.String("fwd", status.Forward))
	resp, err := t.cfg.upstream.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	status.ForwardStatus = resp.StatusCode
	setCacheStatus(ensureHeader(resp), t.cfg.name, status)
	return resp, nil
}

// forwardUnsafe sends a request with an unsafe method and, when it
// succeeds, invalidates what it may have changed (RFC 9111 §4.4).
func (t *Transport) forwardUnsafe(req *http.Request) (*http.Response, error) {
	resp, err := t.forward(req, CacheStatus{Forward: ForwardMethod})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		for _, u := range invalidatedURLs(req, resp.Header) {
			t.remove(req, cacheKey(u))
		}
	}
	return resp, nil
}

// load returns the stored variants of key; a storage error is logged and
// counts as a miss.
func (t *Transport) load(ctx context.Context, key []byte) []*Entry {
	if t.memory != nil {
		return t.memory.getKeyBytes(key)
	}
	if t.tiered != nil {
		if entries := t.tiered.front.getKeyBytes(key); len(entries) > 0 {
			return entries
		}
	}
	ctx, cancel := t.storageContext(ctx)
	defer cancel()
	entries, err := t.cfg.storage.Get(ctx, string(key))
	if err != nil {
		t.storageErrors.log(ctx, "get", string(key), err)
		return nil
	}
	return entries
}

// fetch makes a full request (a miss, or a stale entry without validators)
// and stores the response when it may. stored is the entry being replaced,
// if any.
func (t *Transport) fetch(req *http.Request, key string, stored *Entry, forward string, fallback *staleFallback) (*http.Response, error) {
	t.logDecision(req, "fetch", slog.String("fwd", forward))
	requestTime := t.cfg.now()
	resp, err := t.cfg.upstream.RoundTrip(req)
	if stale, served := t.serveStaleOnError(req, fallback, resp, err); served {
		return stale, nil
	}
	if err != nil {
		return nil, err
	}
	return t.receive(req, key, resp, stored, requestTime, forward)
}

// revalidate validates a stored response with the origin (RFC 9111 §4.3)
// and serves it, updated, when the origin answers 304.
//
// fallback, when not nil, is the stale response to serve instead if the
// origin fails and stale-if-error allows it.
func (t *Transport) revalidate(req *http.Request, key string, entry *Entry, d decision, fallback *staleFallback) (*http.Response, error) {
	if req.Method == http.MethodHead {
		// A HEAD response freshens or invalidates the stored GET (§4.3.5).
		return t.fetch(req, key, entry, d.forward, fallback)
	}
	if !hasValidators(entry) {
		// Nothing to validate with: a full request, with the caller's own
		// validators, if any, left for the origin to answer.
		return t.fetch(req, key, entry, d.forward, fallback)
	}
	outreq := conditionalRequest(req, entry)
	t.logDecision(req, "revalidate", slog.String("fwd", d.forward))
	requestTime := t.cfg.now()
	resp, err := t.cfg.upstream.RoundTrip(outreq)
	if stale, served := t.serveStaleOnError(req, fallback, resp, err); served {
		return stale, nil
	}
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusNotModified {
		resp.Request = req
		return t.receive(req, key, resp, entry, requestTime, d.forward)
	}
	responseTime := t.cfg.now()
	discard(resp.Body)
	if !notModifiedMatches(resp.Header, entry) {
		// The 304 is for another representation than the one stored:
		// only a full response can answer (§4.3.4).
		delete(outreq.Header, "If-None-Match")
		delete(outreq.Header, "If-Modified-Since")
		resp, err := t.fetch(outreq, key, entry, d.forward, fallback)
		if resp != nil {
			resp.Request = req
		}
		return resp, err
	}
	updated := freshened(entry, resp.Header, requestTime, responseTime)
	updatedFacts := t.factsFor(updated, t.ruleFor(req, requestOptionsFrom(req.Context()), updated.StatusCode))
	updatedDecision := t.cfg.policy.evaluate(cacheControl{}, updated, updatedFacts, responseTime)
	t.store(req, key, updated, t.cfg.policy.storageTTL(updatedDecision, updatedFacts))
	status := CacheStatus{Forward: d.forward, ForwardStatus: http.StatusNotModified,
		TTL: updatedDecision.ttl(), HasTTL: true}
	return t.serveStored(req, isConditional(req), updated, updatedDecision.age, status)
}

// receive handles a response from the network: it freshens or invalidates
// a stored GET from a HEAD response, decides whether to store the response,
// arranges for its body to be stored once complete, and answers the
// caller's own conditional request.
func (t *Transport) receive(req *http.Request, key string, resp *http.Response, stored *Entry, requestTime time.Time, forward string) (*http.Response, error) {
	responseTime := t.cfg.now()
	header := ensureHeader(resp)
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	status := CacheStatus{Forward: forward, ForwardStatus: resp.StatusCode}
	if req.Method == http.MethodHead && stored != nil && resp.StatusCode == http.StatusOK {
		t.freshenFromHead(req, key, stored, header, requestTime, responseTime)
	}
	entry, d, ttl, reason := t.entryToStore(req, resp, requestTime, responseTime)
	if entry != nil {
		status.Stored, status.TTL, status.HasTTL = true, d.ttl(), true
		resp.Body = newCapturingBody(resp.Body, resp.ContentLength, t.cfg.maxBodyBytes, func(body []byte) {
			entry.Body = BytesBody(body)
			t.store(req, key, entry, ttl)
		})
	} else {
		status.Detail = reason
		if stored != nil && req.Method == http.MethodGet && isFullResponse(resp.StatusCode) {
			// §4.3.3: a full response replaces the stored one; when it may
			// not be stored itself, the outdated one must not stay. (A 304
			// here answers the caller's own validators; a 5xx leaves the
			// stored response for a later try.)
			t.remove(req, key)
		}
	}
	t.logDecision(req, "received", slog.Int("status", resp.StatusCode), slog.Bool("stored", entry != nil), slog.String("detail", reason))
	setCacheStatus(header, t.cfg.name, status)
	resp.Request = req
	if isConditional(req) && conditionalNotModified(req, resp.StatusCode, header) {
		// The caller's validators match what the origin sent: read the body
		// through (so it is stored) and answer 304.
		discard(resp.Body)
		return notModifiedResponse(req, header), nil
	}
	return resp, nil
}

// entryToStore decides whether a response from the network is stored and
// returns the entry (without its body, which is added once read whole), its
// freshness and how long to keep it; or, when it is not stored, the reason.
func (t *Transport) entryToStore(req *http.Request, resp *http.Response, requestTime, responseTime time.Time) (*Entry, decision, time.Duration, string) {
	storedFields, facts := storedHeader(resp.Header)
	t.cfg.policy.withoutPrivateFields(storedFields, facts)
	entry := &Entry{
		Variant:      requestVariant(req, facts.varyNames, !t.cfg.shared),
		StatusCode:   resp.StatusCode,
		Header:       storedFields,
		RequestTime:  requestTime,
		ResponseTime: responseTime,
	}
	entry.facts.Store(facts)
	ruled := t.factsFor(entry, t.ruleFor(req, requestOptionsFrom(req.Context()), resp.StatusCode))
	ok, reason := t.cfg.policy.storable(req, requestDirectives(req.Header), resp.StatusCode, ruled)
	if !ok {
		return nil, decision{}, 0, reason
	}
	if resp.ContentLength > t.cfg.maxBodyBytes {
		return nil, decision{}, 0, detailTooLarge
	}
	d := t.cfg.policy.evaluate(cacheControl{}, entry, ruled, responseTime)
	if !t.cfg.policy.reusable(d.lifetime, ruled) {
		return nil, decision{}, 0, detailNotReusable
	}
	return entry, d, t.cfg.policy.storageTTL(d, ruled), ""
}

// isFullResponse reports final statuses that replace a stored response:
// not 304, and not a server error.
func isFullResponse(status int) bool {
	return status >= 200 && status < 500 && status != http.StatusNotModified
}

// freshenFromHead applies §4.3.5: a HEAD response that matches the stored
// GET response updates its header; one that does not invalidates it.
func (t *Transport) freshenFromHead(req *http.Request, key string, stored *Entry, head http.Header, requestTime, responseTime time.Time) {
	if !headMatches(head, stored) {
		t.remove(req, key)
		return
	}
	updated := freshened(stored, head, requestTime, responseTime)
	facts := t.factsFor(updated, t.ruleFor(req, requestOptionsFrom(req.Context()), updated.StatusCode))
	d := t.cfg.policy.evaluate(cacheControl{}, updated, facts, responseTime)
	t.store(req, key, updated, t.cfg.policy.storageTTL(d, facts))
}

// remove deletes every variant of key; a storage error is logged.
func (t *Transport) remove(req *http.Request, key string) {
	ctx := req.Context()
	t.inOrder(func() {
		ctx, cancel := t.detachedStorageContext(ctx)
		defer cancel()
		if err := t.cfg.storage.Delete(ctx, key); err != nil {
			t.storageErrors.log(ctx, "delete", key, err)
		}
	})
}

// inOrder runs a delete after the writes queued before it (writeBehind).
func (t *Transport) inOrder(del func()) {
	if t.writes == nil {
		del()
		return
	}
	t.writes.delete(del)
}

// store writes an entry; a storage error is logged, never returned.
//
// A MemoryStorage stores at once; another Storage stores on the Transport's
// write-behind goroutine, so that the caller does not wait for a file or a
// network round trip.
func (t *Transport) store(req *http.Request, key string, entry *Entry, ttl time.Duration) {
	ctx := req.Context()
	if t.writes == nil {
		t.storeIn(ctx, t.cfg.storage, key, entry, ttl)
		return
	}
	storage := t.cfg.storage
	if t.tiered != nil {
		// The memory tier at once, so that the next request is a hit; the
		// shared tier behind.
		t.tiered.front.Set(ctx, key, entry, t.tiered.memoryTTL(ttl))
		storage = t.tiered.back
	}
	t.writes.write(entrySize(entry), func() { t.storeIn(ctx, storage, key, entry, ttl) })
}

// storeIn writes an entry to storage; an error is logged.
func (t *Transport) storeIn(ctx context.Context, storage Storage, key string, entry *Entry, ttl time.Duration) {
	ctx, cancel := t.detachedStorageContext(ctx)
	defer cancel()
	if err := storage.Set(ctx, key, entry, ttl); err != nil {
		t.storageErrors.log(ctx, "set", key, err)
	}
}

// serveStored builds the response for a stored entry: its own header map
// and body reader, Age (RFC 9111 §4.2.3 and §5.1) and Cache-Status. It
// answers the caller's conditional request with 304 where it matches.
func (t *Transport) serveStored(req *http.Request, conditional bool, entry *Entry, age time.Duration, status CacheStatus) (*http.Response, error) {
	facts := entry.responseFacts()
	header, spare := facts.template.clone(2)
	if status.Hit {
		// §5.2.2.4: fields named by a qualified no-cache are sent only after
		// a successful revalidation.
		for _, name := range facts.cc.noCacheFields {
			delete(header, name)
		}
	}
	spare[0], spare[1] = t.ageAndCacheStatus(entry, age, status)
	header["Age"], header["Cache-Status"] = spare[0:1:1], spare[1:2:2]
	t.logDecision(req, "serve stored", slog.Bool("hit", status.Hit), slog.Duration("age", age))
	if conditional && conditionalNotModified(req, entry.StatusCode, header) {
		return notModifiedResponse(req, header), nil
	}
	if body, ok := entry.Body.(BytesBody); ok && req.Method != http.MethodHead {
		// One allocation for the response and its body reader.
		r := &responseWithBody{}
		r.body.Reset(body)
		r.response = storedResponse(req, entry.StatusCode, header)
		r.response.Body, r.response.ContentLength = &r.body, int64(len(body))
		return &r.response, nil
	}
	resp := storedResponse(req, entry.StatusCode, header)
	if entry.Body == nil {
		return &resp, nil
	}
	resp.ContentLength = entry.Body.Size()
	if req.Method == http.MethodHead {
		return &resp, nil
	}
	body, err := entry.Body.Open()
	if err != nil {
		key := cacheKey(req.URL)
		t.storageErrors.log(req.Context(), "open body", key, err)
		return t.network(req, func(req *http.Request) (*http.Response, error) {
			return t.fetch(req, key, nil, ForwardURIMiss, nil)
		})
	}
	resp.Body = body
	return &resp, nil
}

// responseWithBody holds a served response and its body reader together.
type responseWithBody struct {
	response http.Response
	body     bytesBodyReader
}

// storedResponse is a response made by the cache, with no body yet.
func storedResponse(req *http.Request, status int, header http.Header) http.Response {
	return http.Response{
		Status:     statusLine(status),
		StatusCode: status,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     header,
		Body:       http.NoBody,
		Request:    req,
	}
}

// ageAndCacheStatus returns the Age and Cache-Status values of a served
// entry. Those of plain hits are cached on the entry for the second they
// hold in, so that most hits format nothing.
func (t *Transport) ageAndCacheStatus(entry *Entry, age time.Duration, status CacheStatus) (ageValue, cacheStatus string) {
	age = age.Truncate(time.Second)
	// Plain hits and stale-while-revalidate hits are cached.
	cacheable := status == CacheStatus{Hit: true, Forward: status.Forward, TTL: status.TTL, HasTTL: true}
	ttl := status.TTL.Truncate(time.Second)
	if cacheable {
		if f := entry.hit.Load(); f != nil && f.age == age && f.ttl == ttl && f.forward == status.Forward && f.name == t.cfg.name {
			return f.ageValue, f.cacheStatus
		}
	}
	ageValue = durationSeconds(age)
	cacheStatus = cacheStatusValue(entry.Header["Cache-Status"], t.cfg.name, status)
	if cacheable {
		entry.hit.Store(&hitFields{name: t.cfg.name, forward: status.Forward, age: age, ttl: ttl, ageValue: ageValue, cacheStatus: cacheStatus})
	}
	return ageValue, cacheStatus
}

// notModifiedResponse answers a conditional request with 304 and the fields
// RFC 9110 §15.4.5 lists, plus Age and Cache-Status.
func notModifiedResponse(req *http.Request, full http.Header) *http.Response {
	header := make(http.Header, len(notModifiedFields))
	for _, name := range notModifiedFields {
		if values, ok := full[name]; ok {
			header[name] = values
		}
	}
	resp := storedResponse(req, http.StatusNotModified, header)
	return &resp
}

// gatewayTimeout answers an only-if-cached request that nothing stored can
// satisfy (RFC 9111 §5.2.1.7).
func (t *Transport) gatewayTimeout(req *http.Request, forward string) *http.Response {
	t.logDecision(req, "only-if-cached: nothing usable stored", slog.String("fwd", forward))
	header := http.Header{"Content-Length": {"0"}}
	setCacheStatus(header, t.cfg.name, CacheStatus{Detail: "only-if-cached"})
	resp := storedResponse(req, http.StatusGatewayTimeout, header)
	return &resp
}

// storageContext bounds a storage call by the configured timeout. Calls to
// a local store (memory, disk), which a context could not interrupt, get
// none.
func (t *Transport) storageContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if t.local {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, t.cfg.storageTimeout)
}

// detachedStorageContext is storageContext for writes that must finish even
// when the caller has gone (its context does not end with the caller's).
func (t *Transport) detachedStorageContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if t.local {
		return ctx, func() {}
	}
	return t.storageContext(context.WithoutCancel(ctx))
}

func (t *Transport) logDecision(req *http.Request, msg string, attrs ...slog.Attr) {
	ctx := req.Context()
	if !t.cfg.logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs = append(attrs, slog.String("method", req.Method), slog.String("url", req.URL.String()))
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

// conditionalRequest returns a copy of req that validates a stored entry
// (RFC 9111 §4.3.1): the caller's own validators, answered from the result,
// give way to the entry's. The copy has its own header map; its values are
// shared with req, which a RoundTripper does not modify.
func conditionalRequest(req *http.Request, e *Entry) *http.Request {
	out := new(http.Request)
	*out = *req
	out.Header = make(http.Header, len(req.Header)+2)
	for name, values := range req.Header {
		if name != "If-None-Match" && name != "If-Modified-Since" {
			out.Header[name] = values
		}
	}
	setValidators(out.Header, e)
	return out
}

// statusLines holds "200 OK" and the like, built once.
var statusLines = func() map[int]string {
	lines := make(map[int]string)
	for code := 100; code < 600; code++ {
		if text := http.StatusText(code); text != "" {
			lines[code] = strconv.Itoa(code) + " " + text
		}
	}
	return lines
}()

func statusLine(code int) string {
	if line, ok := statusLines[code]; ok {
		return line
	}
	return strconv.Itoa(code)
}
