package httpcache

import (
	"net/http"
	"net/url"
)

// Invalidation (RFC 9111 §4.4): what a successful unsafe request removes.

// isUnsafe reports methods that are not safe (RFC 9110 §9.2.1), whose
// success invalidates stored responses (RFC 9111 §4.4).
func isUnsafe(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// invalidatedURLs returns the URIs a non-error response to an unsafe request
// invalidates (RFC 9111 §4.4): the target URI, and the URIs in Location and
// Content-Location when they have the target's origin. target is the
// request's effective URL: its host the one net/http sends.
func invalidatedURLs(target *url.URL, h http.Header) []*url.URL {
	urls := []*url.URL{target}
	for _, field := range []string{"Location", "Content-Location"} {
		value := h.Get(field)
		if value == "" {
			continue
		}
		ref, err := url.Parse(value)
		if err != nil {
			continue
		}
		resolved := target.ResolveReference(ref)
		if sameOrigin(resolved, target) {
			urls = append(urls, resolved)
		}
	}
	return urls
}

// sameOrigin reports whether two URLs have one origin: scheme and host,
// case and default port normalised (RFC 9110 §4.3.1).
func sameOrigin(a, b *url.URL) bool {
	return equalFoldASCII(a.Scheme, b.Scheme) &&
		normalizeHost(lowerASCII(a.Scheme), a.Host) == normalizeHost(lowerASCII(b.Scheme), b.Host)
}
