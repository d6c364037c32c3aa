package httpcache

import (
	"log/slog"
	"net/http"
	"time"
)

// The network steps: what the cache does for a request that goes to the
// origin. Each runs through Transport.network, so identical requests in
// flight may share it (coalesce.go), and returns a stepResult.

// step is a network step of the cache for an exchange.
type step func(t *Transport, x *exchange) (stepResult, error)

// stepResult is what a network step produced: the response the caller
// gets, and where it came from.
type stepResult struct {
	resp   *http.Response
	source responseSource
}

// responseSource says where a step's response came from. The coalescer
// uses it to decide whether identical requests may share the response.
type responseSource int

const (
	// fromOrigin: the origin's response, not stored.
	fromOrigin responseSource = iota
	// fromOriginStored: the origin's response, stored once read whole.
	fromOriginStored
	// fromOriginNotModified: the origin's 304 to the caller's own
	// validators, which identical requests carry too.
	fromOriginNotModified
	// fromStorageRevalidated: a stored response, validated (304) or
	// freshened by the origin.
	fromStorageRevalidated
	// fromStorageOnError: a stored response served stale because the
	// origin failed (RFC 5861 §4).
	fromStorageOnError
)

// reusable reports responses the cache itself may reuse, or that answer
// what identical requests would be answered: in a shared cache, only those
// may go to every identical request.
func (s responseSource) reusable() bool { return s != fromOrigin }

// fetch makes a full request (a miss, or a stale entry without validators)
// and stores the response when it may.
func (t *Transport) fetch(x *exchange) (stepResult, error) {
	t.logDecision(x.req, "fetch", slog.String("fwd", x.forward))
	requestTime := t.cfg.now()
	resp, err := t.sendUpstream(x.req)
	t.observeOrigin(x, resp)
	if stale, served := t.serveStaleOnError(x, resp, err); served {
		return stale, nil
	}
	if err != nil {
		return stepResult{}, err
	}
	return t.receive(x, resp, requestTime), nil
}

// fetchAfterUnreadableBody fetches, as on a miss, a response whose stored
// body could not be read. A step that finds an unreadable body calls it
// directly: it runs in the network step already, and must not wait for a
// shared step, which could be its own.
func (t *Transport) fetchAfterUnreadableBody(x *exchange) (stepResult, error) {
	return t.fetch(x.asMiss(ForwardURIMiss))
}

// fetchReplacing is fetch for a stale response that cannot be validated
// with a conditional request; it counts as Revalidated unless the stored
// response was served because the origin failed.
func (t *Transport) fetchReplacing(x *exchange) (stepResult, error) {
	r, err := t.fetch(x)
	if err == nil && r.source != fromStorageOnError {
		t.stats.revalidated.Add(1)
	}
	return r, err
}

// revalidate validates a stored response with the origin (RFC 9111 §4.3)
// and serves it, updated, when the origin answers 304.
func (t *Transport) revalidate(x *exchange) (stepResult, error) {
	if x.req.Method == http.MethodHead {
		// A HEAD response freshens or invalidates the stored GET (§4.3.5).
		return t.fetchReplacing(x)
	}
	if !hasValidators(x.stored) {
		// Nothing to validate with: a full request, with the caller's own
		// validators, if any, left for the origin to answer.
		return t.fetchReplacing(x)
	}
	outreq := conditionalRequest(x.req, x.stored)
	t.logDecision(x.req, "revalidate", slog.String("fwd", x.forward))
	requestTime := t.cfg.now()
	resp, err := t.sendUpstream(outreq)
	t.observeOrigin(x, resp)
	if stale, served := t.serveStaleOnError(x, resp, err); served {
		return stale, nil
	}
	if err != nil {
		return stepResult{}, err
	}
	if resp.StatusCode != http.StatusNotModified {
		t.stats.revalidated.Add(1)
		return t.answerCallersValidators(x, t.receive(x, resp, requestTime)), nil
	}
	responseTime := t.cfg.now()
	discard(resp.Body)
	addDateIfMissing(ensureHeader(resp), responseTime)
	if !notModifiedMatches(resp.Header, x.stored) {
		t.stats.revalidated.Add(1)
		return t.fetchUnconditionally(x, outreq)
	}
	t.stats.revalidated304.Add(1)
	updated := t.cfg.policy.freshened(x.stored, resp.Header, requestTime, responseTime)
	d := t.storeFreshened(x, updated, responseTime)
	status := CacheStatus{Forward: x.forward, ForwardStatus: http.StatusNotModified, TTL: d.ttl(), HasTTL: true}
	served, err := t.serveStored(x, updated, resp.Header, d.age, status)
	if err == errUnreadableBody {
		return t.fetchAfterUnreadableBody(x)
	}
	return stepResult{resp: served, source: fromStorageRevalidated}, err
}

// fetchUnconditionally answers a request whose revalidation got a 304 for
// another representation than the one stored: only a full response can
// answer (§4.3.4). It sends outreq, the conditional request, without its
// validators; the caller's own, which the origin never saw, are answered
// from the full response (answerCallersValidators).
func (t *Transport) fetchUnconditionally(x *exchange, outreq *http.Request) (stepResult, error) {
	delete(outreq.Header, "If-None-Match")
	delete(outreq.Header, "If-Modified-Since")
	full := x.withRequest(outreq)
	full.request.conditional = false
	result, err := t.fetch(full)
	if result.resp == nil {
		return result, err
	}
	result.resp.Request = x.req
	if err != nil {
		return result, err
	}
	return t.answerCallersValidators(x, result), nil
}

// storeFreshened stores an entry a 304 or HEAD response updated (RFC 9111
// §4.3.4, §4.3.5), and returns the policy's decision on it. The update is
// stored only where the storage rules allow storing the updated response
// (RFC 9111 §3: not no-store, not private in a shared cache, §3.5 for a
// request with credentials, no field the cache needs withheld); otherwise
// it answers the request. The stored entry, whose metadata the origin has
// just superseded, is then removed when it could be stored for this
// request itself: kept as it was, it would be served with freshness the
// origin no longer gives it (a stored max-age=3600 after a 304 that says
// max-age=0). When it could not (a rule or a request option that applies
// to other requests, not to this one, stored it), the refusal says
// nothing new about it, and it stays.
func (t *Transport) storeFreshened(x *exchange, updated *Entry, responseTime time.Time) decision {
	facts := t.factsFor(x, updated)
	d := t.cfg.policy.evaluate(&cacheControl{}, updated, facts, responseTime)
	if ok, reason := t.cfg.policy.storable(http.MethodGet, &x.request, updated.StatusCode, facts); !ok {
		if stored, _ := t.cfg.policy.storable(http.MethodGet, &x.request, x.stored.StatusCode, t.factsFor(x, x.stored)); !stored {
			t.logDecision(x.req, "update not stored", slog.String("detail", reason))
			return d
		}
		t.logDecision(x.req, "update not stored; the stored response is removed", slog.String("detail", reason))
		t.removeStored(x)
		return d
	}
	if !t.tagEntry(updated) {
		t.logDecision(x.req, "update not stored; the stored response is removed", slog.String("detail", detailTags))
		t.removeStored(x)
		return d
	}
	t.store(x, updated, t.cfg.policy.storageTTL(d, facts))
	return d
}

// receive handles a response from the network: it freshens or invalidates
// a stored GET from a HEAD response, or a stored response from a 304 to
// the caller's own validators, decides whether to store the response, and
// arranges for its body to be stored once complete.
func (t *Transport) receive(x *exchange, resp *http.Response, requestTime time.Time) stepResult {
	responseTime := t.cfg.now()
	header := ensureHeader(resp)
	addDateIfMissing(header, responseTime)
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	status := CacheStatus{Forward: x.forward, ForwardStatus: resp.StatusCode}
	if x.req.Method == http.MethodHead && x.stored != nil && resp.StatusCode == http.StatusOK {
		// A stored GET response of another status (a 404, a redirect)
		// is not the representation a HEAD's 200 describes: it is
		// invalidated (freshenFromHead), never freshened (RFC 9110 §9.3.2).
		t.freshenFromHead(x, header, requestTime, responseTime)
	}
	if x.req.Method == http.MethodGet && x.stored != nil && resp.StatusCode == http.StatusNotModified &&
		updatesStored(header, x.stored, x.storedAlone) {
		// A 304 to the caller's own validators (the stored response has
		// none for the cache to send) freshens it all the same (§4.3.4).
		t.storeFreshened(x, t.cfg.policy.freshened(x.stored, header, requestTime, responseTime), responseTime)
	}
	source := fromOrigin
	entry, d, ttl, reason := t.entryToStore(x, resp, requestTime, responseTime)
	expected, lengthAgrees := declaredLength(resp.ContentLength, header)
	if entry != nil && !lengthAgrees {
		entry, reason = nil, abandonedWrongLength
	}
	if entry != nil {
		source = fromOriginStored
		status.Stored, status.TTL, status.HasTTL = true, d.ttl(), true
		resp.Body = newCapturingBody(resp.Body, expected, t.cfg.maxBodyBytes, t.cfg.drain, func(body []byte) {
			entry.Body = BytesBody(body)
			t.store(x, entry, ttl)
			t.stats.stored.Add(1)
		}, func(reason string) {
			t.stats.countNotStored(reason)
			t.logDecision(x.req, "body not stored", slog.String("detail", reason))
		})
	} else {
		status.Detail = reason
		if reason != "" {
			t.stats.countNotStored(reason)
		}
		if x.stored != nil && x.req.Method == http.MethodGet {
			t.keepOrRemoveStored(x, resp.StatusCode, reason)
		}
		if resp.StatusCode == http.StatusNotModified {
			source = fromOriginNotModified
		}
	}
	t.logDecision(x.req, "received", slog.Int("status", resp.StatusCode), slog.Bool("stored", entry != nil), slog.String("detail", reason))
	setCacheStatus(header, t.cfg.name, status)
	resp.Request = x.req
	return stepResult{resp: resp, source: source}
}

// answerCallersValidators answers the caller's own conditional request
// from the origin's full response to the cache's: the validators the cache
// sent in place of the caller's (conditionalRequest) did not match, and
// the caller's, which the origin never saw, may. A 304 answers them when
// they match (RFC 9110 §13.2.2); the body is read through, so that it is
// stored. Where the caller's validators went to the origin themselves (a
// miss, a stored response without validators), the origin's answer stands:
// a cache must not evaluate them for a resource it has no stored response
// of (RFC 9111 §4.3.2), and the origin has.
func (t *Transport) answerCallersValidators(x *exchange, r stepResult) stepResult {
	if !x.request.conditional || !conditionalNotModified(x.req, r.resp.StatusCode, r.resp.Header) {
		return r
	}
	discard(r.resp.Body)
	notModified := notModifiedResponse(x.req, r.resp.Header)
	if r.source == fromOrigin || r.source == fromOriginStored {
		// The origin's cookies answer the request that brought them: this
		// one, whose 304 stands for that 200.
		for _, name := range cookieFields {
			if values, ok := r.resp.Header[name]; ok {
				notModified.Header[name] = values
			}
		}
	}
	return stepResult{resp: notModified, source: r.source}
}

// keepOrRemoveStored removes the stored response a response that is not
// stored outdates (outdatesStored), and keeps it otherwise; an info record
// says which.
func (t *Transport) keepOrRemoveStored(x *exchange, status int, reason string) {
	if outdatesStored(status, reason, t.ruleFor(x, status) != nil) {
		t.removeStored(x)
		t.cfg.logger.LogAttrs(x.req.Context(), slog.LevelInfo, "httpcache: the origin's response outdates the stored one, which is removed",
			slog.String("url", t.logURL(x.req)), slog.Int("status", status), slog.String("detail", reason))
		return
	}
	t.cfg.logger.LogAttrs(x.req.Context(), slog.LevelInfo, "httpcache: the origin's response is not stored; the stored response stays",
		slog.String("url", t.logURL(x.req)), slog.Int("status", status), slog.String("detail", reason))
}

// entryToStore decides whether a response from the network is stored and
// returns the entry (without its body, which is added once read whole), its
// freshness and how long to keep it; or, when it is not stored, the reason.
func (t *Transport) entryToStore(x *exchange, resp *http.Response, requestTime, responseTime time.Time) (*Entry, decision, time.Duration, string) {
	entry := &Entry{StatusCode: resp.StatusCode, RequestTime: requestTime, ResponseTime: responseTime}
	entry.ownFactsClaimed.Store(true)
	facts := &entry.ownFacts
	entry.Header = storedHeader(resp.Header, facts)
	facts.lostNeededField = t.cfg.policy.connectionListsNeeded(resp.Header["Connection"])
	t.cfg.policy.withoutPrivateFields(entry.Header, facts)
	rule := t.ruleFor(x, resp.StatusCode)
	t.cfg.policy.withoutCookies(entry.Header, facts, rule)
	entry.Variant = x.variant(facts.varyNames)
	entry.facts.Store(facts)
	ruled := t.factsWithRule(entry, rule)
	ok, reason := t.cfg.policy.storable(x.req.Method, &x.request, resp.StatusCode, ruled)
	if !ok {
		return nil, decision{}, 0, reason
	}
	// A failure replaces nothing it would shadow: not the selected
	// response, nor, on a Vary miss, the other requests' (a failure
	// without Vary matches them all, and the newest match answers:
	// RFC 9111 §4.1).
	if (x.stored != nil || x.varyMiss) && transientFailure(resp.StatusCode) {
		return nil, decision{}, 0, detailKeptStored
	}
	if resp.ContentLength > t.cfg.maxBodyBytes {
		return nil, decision{}, 0, detailTooLarge
	}
	if !t.tagEntry(entry) {
		return nil, decision{}, 0, detailTags
	}
	d := t.cfg.policy.evaluate(&cacheControl{}, entry, ruled, responseTime)
	if !t.cfg.policy.reusable(d.lifetime, ruled) {
		return nil, decision{}, 0, detailNotReusable
	}
	return entry, d, t.cfg.policy.storageTTL(d, ruled), ""
}

// freshenFromHead applies §4.3.5: a HEAD response that matches the stored
// GET response updates its header; one that contradicts it invalidates
// it; one that carries none of its validators leaves it (headSaysNothing).
func (t *Transport) freshenFromHead(x *exchange, head http.Header, requestTime, responseTime time.Time) {
	if x.stored.StatusCode == http.StatusOK && headSaysNothing(head, x.stored) {
		return
	}
	if x.stored.StatusCode != http.StatusOK || !headMatches(head, x.stored) {
		t.removeStored(x)
		return
	}
	t.storeFreshened(x, t.cfg.policy.freshened(x.stored, head, requestTime, responseTime), responseTime)
}
