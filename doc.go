// Package httpcache is an HTTP client cache: an http.RoundTripper that stores
// responses and answers requests from them as HTTP caching (RFC 9111)
// allows.
//
// Use it as an http.Client's Transport, or wrap another client's transport:
//
//	cache := httpcache.New(httpcache.WithTransport(sdkClient.Transport))
//	defer cache.Close()
//	sdkClient.Transport = cache
//
// With no options, New returns a private cache (one user's responses, as a
// browser keeps them) holding up to 64 MiB in memory. WithShared(true)
// applies the rules of a shared cache, for a gateway or proxy serving many
// users. WithStorage puts entries elsewhere: NewDiskStorage for a cache that
// outlives the process, the storage/redisstore module for a fleet sharing
// one Redis, NewTieredStorage for a memory tier in front of it, or the
// storage/gregjones module for any gregjones/httpcache backend. The
// storage/storagetest package is the acceptance suite every Storage passes.
//
// For APIs that are slow, failing or send no useful cache headers, the
// cache serves stale responses while it revalidates them in the background
// or while the origin fails (RFC 5861), applies configured rules
// (WithRules), and takes per-request options from the context
// (RequestContext). Identical requests in flight share one request to the
// origin (WithCoalescing).
//
// The cache stores a response only once its body has been read to the end
// without error, so callers should read bodies to EOF (io.ReadAll, or
// io.Copy to io.Discard) and close them. A storage error never fails a
// request: it is logged and the request goes to the network.
//
// Every response carries a Cache-Status header (RFC 9211) whose last member
// is this cache's: for example "httpcache; hit; ttl=42" or
// "httpcache; fwd=stale; fwd-status=304". StatusOf reads it as a
// CacheStatus.
package httpcache
