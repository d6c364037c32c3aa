package httpcache

import (
	"errors"
	"net/http"
	"time"
)

// ResponseEvent is what the cache did for one request, as WithResponseHook
// reports it. It holds no credentials, no path or query, and no body: only
// what metrics and traces can use without leaking or exploding in
// cardinality.
type ResponseEvent struct {
	// Method is the request's method (GET for an empty one).
	Method string
	// Host is the host the request was sent to, without user information.
	Host string
	// StatusCode is the response's status, or 0 when Err is set.
	StatusCode int
	// Cache is this cache's Cache-Status member of the response (RFC 9211):
	// a hit, or why the request went forward. It is zero when Err is set.
	Cache CacheStatus
	// Duration is the time RoundTrip took: until the response's header was
	// returned, not until its body was read.
	Duration time.Duration
	// Err is the error RoundTrip returned, if any.
	Err error
}

// WithResponseHook sets a function called once for each RoundTrip, as it
// returns, with what the cache did. Use it to feed your own metrics or
// traces. The function runs on the caller's goroutine, so it must be quick
// and safe for concurrent use; it does not see background revalidations
// (see Transport.Stats for those). Without a hook the Transport measures
// nothing.
func WithResponseHook(hook func(ResponseEvent)) Option {
	return func(c *config) error {
		if hook == nil {
			return errors.New("WithResponseHook: hook is nil")
		}
		c.responseHook = hook
		return nil
	}
}

// roundTripReported is RoundTrip with the response hook called.
func (t *Transport) roundTripReported(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.roundTrip(req)
	event := ResponseEvent{Method: http.MethodGet, Duration: time.Since(start), Err: err}
	if req != nil {
		if req.Method != "" {
			event.Method = req.Method
		}
		if req.URL != nil {
			event.Host = normalizeHost(req.URL.Scheme, wireHost(req))
		}
	}
	if err == nil && resp != nil {
		event.StatusCode = resp.StatusCode
		event.Cache, _ = StatusOf(resp)
	}
	t.cfg.responseHook(event)
	return resp, err
}
