package httpcache

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
)

// Calls of the upstream transport. Every request the cache sends goes
// through sendUpstream, which holds the upstream to the RoundTripper
// contract the rest of the Transport relies on.

// errNoResponse is returned for an upstream transport that returned
// neither a response nor an error, which http.RoundTripper forbids.
var errNoResponse = errors.New("httpcache: the upstream transport returned no response and no error")

// sendUpstream sends req with the upstream transport. A panic of the
// upstream becomes an error, logged with its stack, with or without
// coalescing; a response without a body gets an empty one.
func (t *Transport) sendUpstream(req *http.Request) (resp *http.Response, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, t.panicError(req, "the upstream transport", p)
		}
	}()
	resp, err = t.cfg.upstream.RoundTrip(req)
	switch {
	case err != nil:
		if resp != nil && resp.Body != nil {
			resp.Body.Close() // RoundTripper: a response with an error is ignored
		}
		return nil, err
	case resp == nil:
		return nil, errNoResponse
	case resp.Body == nil:
		resp.Body = http.NoBody
	}
	return resp, nil
}

// panicError logs a recovered panic of what, with its stack, and returns
// it as the request's error.
func (t *Transport) panicError(req *http.Request, what string, p any) error {
	// The panic's value may name the request's URL, tokens and all.
	value := t.storageErrors.redact.text(req.URL, fmt.Sprint(p))
	t.cfg.logger.LogAttrs(req.Context(), slog.LevelError, "httpcache: "+what+" panicked",
		slog.String("url", t.logURL(req)), slog.String("panic", value), slog.String("stack", string(debug.Stack())))
	return fmt.Errorf("httpcache: %s panicked: %s", what, value)
}
