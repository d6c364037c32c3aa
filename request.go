package httpcache

import (
	"net/http"
	"strings"
)

// cacheRequest is what the cache reads from a request's header, gathered in
// one pass: a hit would otherwise look up seven fields one by one.
type cacheRequest struct {
	// directives are the request's Cache-Control directives, with
	// Pragma: no-cache counted as no-cache when there is no Cache-Control
	// (RFC 9111 §5.4).
	directives cacheControl
	// hasRange: the request asks for part of the representation.
	hasRange bool
	// hasCredentials: it carries Authorization or Cookie.
	hasCredentials bool
	// conditional: the caller made it conditional with a validator the
	// cache evaluates (If-None-Match, If-Modified-Since).
	conditional bool
	// hasBody: it sends content, which the cache key does not capture.
	hasBody bool
}

// readRequest reads what the cache needs from req's header.
func readRequest(req *http.Request) cacheRequest {
	var r cacheRequest
	readRequestInto(&r, req)
	return r
}

// readRequestInto is readRequest into a cacheRequest in place; r must be
// zero.
func readRequestInto(r *cacheRequest, req *http.Request) {
	var cacheControlLines, pragma []string
	for name, values := range req.Header {
		nonEmpty := len(values) > 0 && values[0] != ""
		switch name {
		case "Cache-Control":
			cacheControlLines, r.directives.present = values, true
		case "Pragma":
			pragma = values
		case "Range":
			r.hasRange = nonEmpty
		case "Authorization", "Cookie": // credentialFields
			r.hasCredentials = r.hasCredentials || len(values) > 0
		case "If-None-Match", "If-Modified-Since":
			r.conditional = r.conditional || nonEmpty
		}
	}
	for _, line := range cacheControlLines {
		parseCacheControlLine(&r.directives, line)
	}
	if !r.directives.present && pragmaNoCache(pragma) {
		r.directives.noCache = true
	}
	r.hasBody = req.Body != nil && req.Body != http.NoBody && req.ContentLength != 0
}

// bypass reports requests the cache must not answer or store: the client
// forbids storing (§5.2.1.5), asks for a range (not cached here), or sends a
// body, whose content the key does not capture.
func (r *cacheRequest) bypass() bool {
	return r.directives.noStore || r.hasRange || r.hasBody
}

// pragmaNoCache reports a no-cache member in Pragma field lines.
func pragmaNoCache(lines []string) bool {
	for _, line := range lines {
		for _, member := range strings.Split(line, ",") {
			if strings.EqualFold(trimOWS(member), "no-cache") {
				return true
			}
		}
	}
	return false
}
