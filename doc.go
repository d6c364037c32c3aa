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
//
// # Isolation
//
// One user's or one host's response never reaches another, in both modes.
// The storage key is what net/http puts on the wire: scheme, the Host it
// sends (req.Host when set), the request target and the query. A request
// with credentials (DefaultCredentialFields: Authorization, Cookie,
// X-Api-Key and others, in a header map key of any case) is stored and
// looked up in a partition of its own, named by a keyed fingerprint of
// their values, never the values themselves. Name an API's own field with
// WithExtraCredentialFields; when credentials are added below the cache
// (by the upstream transport, from the context), name the partition with
// WithPartition. Processes that share a disk directory or a Redis share
// responses to requests with credentials only with the same
// WithPartitionSecret.
//
// # Recipes
//
// The examples show the cache for each of its uses: an SDK client
// (WithTransport), a slow, failing or rate-limited API
// (Example_rateLimitedAPI, WithRules), a multi-user service
// (Example_multiUserService, WithPartition, WithShared), a command-line tool
// with a disk cache (Example_commandLineTool, NewDiskStorage), and a fleet
// on Redis (the storage/redisstore package's example).
//
// # Where the RFCs are implemented
//
// For readers of the source, each rule is in the file named for its
// section; policy.go and the policy_*.go files are pure functions of the
// request, the stored response and the time.
//
//   - RFC 9111 §2 and §4.1, the cache key and Vary: key.go, exchange.go
//   - §3, storing responses (§3.1 the header stored, §3.5 Authorization):
//     policy_storable.go
//   - §4.2, freshness and age, and §4.2.4, serving stale: policy_freshness.go
//   - §4.3, validation, and 304 and HEAD updates: policy_validation.go
//   - §4.4, invalidation: policy_invalidation.go
//   - §5.1 Age, §5.3 Expires: policy.go; §5.2 Cache-Control: cachecontrol.go;
//     §5.4 Pragma: request.go
//   - RFC 5861, stale-while-revalidate and stale-if-error: policy_freshness.go
//     (the windows), stale.go and background.go (serving, revalidating)
//   - RFC 9110 §5.6.7, HTTP dates: httpdate.go; §13.2.2, a caller's own
//     conditional request: policy_validation.go
//   - RFC 9211, Cache-Status: cachestatus.go
//
// The flow of one request is in transport.go (RoundTrip) and steps.go (the
// network steps); user rules (WithRules) are in user_rules.go.
package httpcache
