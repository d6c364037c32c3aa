package httpcache

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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
func (t *Transport) revalidateInBackground(req *http.Request, key []byte, entry *Entry) bool {
	// The variant's own id: key, NUL, variant; built on the stack, since
	// most stale hits find a revalidation running and need no string.
	var idBuffer [256]byte
	idBytes := append(append(append(idBuffer[:0], key...), 0), entry.Variant...)
	id, started, closed := t.background.acquire(idBytes)
	if !started {
		return !closed
	}
	// The caller may reuse its request once it has the response: the
	// revalidation works on its own copy.
	background := req.Clone(context.WithoutCancel(req.Context()))
	keyString := string(key)
	t.logDecision(req, "revalidate in background")
	t.background.run(id, req.Context(), func(ctx context.Context) {
		t.finishBackgroundRevalidation(background.WithContext(ctx), keyString, entry)
	})
	return true
}

// finishBackgroundRevalidation revalidates a stale entry and reads the
// response through, which stores it. A failure leaves the stale entry.
func (t *Transport) finishBackgroundRevalidation(req *http.Request, key string, entry *Entry) {
	resp, err := t.network(req, func(req *http.Request) (*http.Response, error) {
		return t.revalidate(req, key, entry, decision{forward: ForwardStale}, nil)
	})
	if err == nil {
		// Read no more than could be stored: a larger body is not kept anyway.
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, t.cfg.maxBodyBytes+1))
		resp.Body.Close()
		if err == nil && originFailed(resp.StatusCode) {
			err = fmt.Errorf("the origin answered %d", resp.StatusCode)
		}
	}
	if err != nil {
		t.cfg.logger.LogAttrs(req.Context(), slog.LevelWarn, "httpcache: background revalidation failed; the stale response stays",
			slog.String("url", req.URL.String()), slog.Any("error", err))
	}
}

// staleFallback is a stale stored response that may answer a request if the
// origin fails (RFC 5861 §4).
type staleFallback struct {
	reqCC cacheControl
	entry *Entry
	facts *responseFacts // as the rule that applies amends them
}

// originFailed reports the statuses stale-if-error covers (RFC 5861 §4).
func originFailed(status int) bool {
	switch status {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// serveStaleOnError answers with the fallback's stale response when the
// origin failed (an error, or a status stale-if-error covers) and the
// stale-if-error window allows it. It reports whether it did; the
// origin's failed response is then discarded. The caller's own cancellation
// is never answered with a stale response: it ends the request.
func (t *Transport) serveStaleOnError(req *http.Request, fallback *staleFallback, resp *http.Response, err error) (*http.Response, bool) {
	if fallback == nil {
		return nil, false
	}
	if err != nil && req.Context().Err() != nil {
		return nil, false
	}
	if err == nil && !originFailed(resp.StatusCode) {
		return nil, false
	}
	d, ok := t.cfg.policy.mayServeStaleOnError(fallback.reqCC, fallback.entry, fallback.facts, t.cfg.now())
	if !ok {
		return nil, false
	}
	status := CacheStatus{Forward: ForwardStale, TTL: d.ttl(), HasTTL: true, Detail: detailStaleIfError}
	if resp != nil {
		status.ForwardStatus = resp.StatusCode
	}
	stale, serveErr := t.serveStored(req, isConditional(req), fallback.entry, d.age, status)
	if serveErr != nil {
		return nil, false
	}
	t.cfg.logger.LogAttrs(req.Context(), slog.LevelInfo, "httpcache: origin failed; serving a stale response",
		slog.String("url", req.URL.String()), slog.Int("status", status.ForwardStatus), slog.Any("error", err))
	if resp != nil {
		discard(resp.Body)
	}
	return stale, true
}
