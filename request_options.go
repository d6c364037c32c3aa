package httpcache

import (
	"context"
	"errors"
	"time"
)

// RequestOptions control the cache for one request, through its context:
// for callers who cannot set the request's headers, such as users of an SDK
// that builds its own requests. Attach them with RequestContext.
type RequestOptions struct {
	// Bypass sends the request to the origin as if there were no cache:
	// nothing is read from storage or written to it.
	Bypass bool

	// Refresh does not answer from storage: the request goes to the
	// origin (conditionally, when a stored response has validators), and
	// the answer is stored. Like a client's "Cache-Control: no-cache".
	Refresh bool

	// TTL, when positive, applies to this request only as an Override rule
	// would: a stored response younger than TTL answers it, and the
	// response it gets is stored and fresh for TTL, whatever the origin's
	// cache headers say (in a shared cache, "private" still prevails).
	TTL time.Duration

	// OnlyIfCached answers from storage only, for offline use: a stored
	// response of any age where RFC 9111 lets a stale one answer (as with
	// MaxStale unbounded), and a 504 otherwise, without a request to the
	// origin. Like a client's "Cache-Control: only-if-cached, max-stale".
	OnlyIfCached bool

	// MaxStale, when positive, accepts a stored response up to this long
	// past its freshness, where the response does not forbid it. Like a
	// client's "Cache-Control: max-stale=...".
	MaxStale time.Duration
}

type requestOptionsKey struct{}

// RequestContext returns a copy of ctx that carries options for the cache.
// Use it as the context of a request sent through a Transport:
//
//	ctx := httpcache.RequestContext(ctx, httpcache.RequestOptions{Refresh: true})
//	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
func RequestContext(ctx context.Context, opts RequestOptions) context.Context {
	return context.WithValue(ctx, requestOptionsKey{}, opts)
}

// requestOptionsFrom returns the options a request's context carries.
func requestOptionsFrom(ctx context.Context) RequestOptions {
	opts, _ := ctx.Value(requestOptionsKey{}).(RequestOptions)
	return opts
}

// validate reports options that cannot be used.
func (o RequestOptions) validate() error {
	if o.TTL < 0 {
		return errors.New("httpcache: RequestOptions.TTL must not be negative")
	}
	if o.MaxStale < 0 {
		return errors.New("httpcache: RequestOptions.MaxStale must not be negative")
	}
	return nil
}

// rule returns the Override rule that a per-request TTL stands for, or nil.
func (o RequestOptions) rule() *compiledRule {
	if o.TTL <= 0 {
		return nil
	}
	return &compiledRule{Rule: Rule{TTL: o.TTL, Override: true}, index: perRequestRule}
}
