package httpcache

import (
	"net/http"
	"net/url"
	"strings"
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
// Content-Location when they have the target's origin.
func invalidatedURLs(req *http.Request, h http.Header) []*url.URL {
	urls := []*url.URL{req.URL}
	for _, field := range []string{"Location", "Content-Location"} {
		value := h.Get(field)
		if value == "" {
			continue
		}
		ref, err := url.Parse(value)
		if err != nil {
			continue
		}
		target := req.URL.ResolveReference(ref)
		if sameOrigin(target, req.URL) {
			urls = append(urls, target)
		}
	}
	return urls
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}
