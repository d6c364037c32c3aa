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
			t.cfg.logger.LogAttrs(req.Context(), slog.LevelError, "httpcache: the upstream transport panicked",
				slog.String("url", t.logURL(req)), slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			resp, err = nil, fmt.Errorf("httpcache: the upstream transport panicked: %v", p)
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
