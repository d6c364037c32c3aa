package httpcache

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
)

// Serving stale responses: stale-while-revalidate and stale-if-error
// (RFC 5861).

// detailStaleIfError is the Cache-Status detail of a stale response served
// because the origin failed.
const detailStaleIfError = "stale-if-error"

// revalidateInBackground starts the revalidation of a stale entry that is
// served at once (RFC 5861 §3), unless one runs already for it or the bound
// on background work is reached. It reports false only when the Transport
// is closed, and the caller must revalidate in the foreground.
func (t *Transport) revalidateInBackground(x *exchange, key []byte) bool {
	// The variant's own id: key, NUL, variant; built on the stack, since
	// most stale hits find a revalidation running and need no string.
	var idBuffer [256]byte
	idBytes := append(append(append(idBuffer[:0], key...), 0), x.stored.Variant...)
	id, started, closed := t.background.acquire(idBytes)
	if !started {
		if !closed {
			t.stats.backgroundSkipped.Add(1)
		}
		return !closed
	}
	if t.backoff.active() {
		if _, held := t.backoff.holds(backoffScope(x), t.cfg.now()); held {
			t.background.release(id)
			return true // the origin asked to wait: the stale response answers
		}
	}
	// The caller may reuse its request once it has the response: the
	// revalidation works on its own copy, and no stale fallback: a failure
	// leaves the stale entry for the next request. The copy is without the
	// caller's validators, which the stale hit has answered: the request
	// refreshes the stored response, and a 304 to the caller's validators
	// would describe the caller's representation, not the stored one
	// (RFC 5861 §3, RFC 9111 §4.3.4).
	background := x.withRequest(x.req.Clone(context.WithoutCancel(x.req.Context())))
	delete(background.req.Header, "If-None-Match")
	delete(background.req.Header, "If-Modified-Since")
	background.request.conditional = false
	background.key = string(key)
	background.forward = ForwardStale
	background.staleFallback = false
	t.logDecision(x.req, "revalidate in background")
	t.stats.backgroundStarted.Add(1)
	t.background.run(id, x.req.Context(), func(ctx context.Context) {
		background.req = background.req.WithContext(ctx)
		t.finishBackgroundRevalidation(background)
	})
	return true
}

// finishBackgroundRevalidation revalidates a stale entry and reads the
// response through, which stores it. A failure leaves the stale entry.
func (t *Transport) finishBackgroundRevalidation(x *exchange) {
	resp, err := t.network(x, (*Transport).revalidate)
	if err == nil {
		// Read no more than could be stored: a larger body is not kept anyway.
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, addSizes(t.cfg.maxBodyBytes, 1)))
		resp.Body.Close()
		if err == nil && originFailed(resp.StatusCode) {
			err = fmt.Errorf("the origin answered %d", resp.StatusCode)
		}
	}
	if err != nil {
		t.stats.backgroundFailed.Add(1)
		t.cfg.logger.LogAttrs(x.req.Context(), slog.LevelWarn, "httpcache: background revalidation failed; the stale response stays",
			slog.String("url", t.logURL(x.req)), slog.Any("error", t.storageErrors.redact.errAbout(x.req.URL, err)))
	}
}

// ruleCountsAsFailure reports a status the rule that applies to a stored
// response lists among its ErrorStatuses.
func ruleCountsAsFailure(f *responseFacts, status int) bool {
	return f != nil && f.rule != nil && slices.Contains(f.rule.ErrorStatuses, status)
}

// originFailed reports the statuses stale-if-error covers (RFC 5861 §4).
func originFailed(status int) bool {
	switch status {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// serveStaleOnError answers with x's stale stored response, when x has it
// as a fallback, the origin failed (an error, or a status stale-if-error
// covers) and the stale-if-error window allows it, or else when the
// origin's answer starts a back-off that the stored response may answer
// (serveStoredAsBackoffStarts). A background revalidation has no fallback. It reports whether it
// did; the origin's failed response is then discarded. The caller's own
// cancellation is never answered with a stale response: it ends the
// request.
func (t *Transport) serveStaleOnError(x *exchange, resp *http.Response, err error) (stepResult, bool) {
	req := x.req
	if !x.staleFallback {
		return stepResult{}, false
	}
	if err != nil && req.Context().Err() != nil {
		return stepResult{}, false
	}
	if err == nil && !originFailed(resp.StatusCode) && !ruleCountsAsFailure(x.facts, resp.StatusCode) {
		return t.serveStoredAsBackoffStarts(x, resp)
	}
	d, ok := t.cfg.policy.mayServeStaleOnError(&x.request.directives, x.stored, x.facts, t.cfg.now())
	if !ok {
		if err == nil {
			return t.serveStoredAsBackoffStarts(x, resp) // a 503 the back-off's own window covers
		}
		return stepResult{}, false
	}
	status := CacheStatus{Forward: ForwardStale, TTL: d.ttl(), HasTTL: true, Detail: detailStaleIfError}
	if resp != nil {
		status.ForwardStatus = resp.StatusCode
	}
	stale, serveErr := t.serveStored(x, x.stored, nil, d.age, status)
	if serveErr != nil {
		return stepResult{}, false
	}
	t.cfg.logger.LogAttrs(req.Context(), slog.LevelInfo, "httpcache: origin failed; serving a stale response",
		slog.String("url", t.logURL(req)), slog.Int("status", status.ForwardStatus), slog.Any("error", t.storageErrors.redact.errAbout(req.URL, err)))
	if resp != nil && resp.Body != nil {
		// Closed, not read: the failed response's body may never end, and
		// the caller has its answer.
		resp.Body.Close()
	}
	t.stats.staleOnError.Add(1)
	return stepResult{resp: stale, source: fromStorageOnError}, true
}
