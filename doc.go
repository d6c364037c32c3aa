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
// users. WithStorage puts entries in another Storage; the storage/storagetest
// package is the acceptance suite every Storage passes.
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
