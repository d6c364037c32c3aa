package httpcache

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Range requests (RFC 9110 §14, RFC 9111 §3.4): a request for a single byte
// range is answered with 206 from a stored full 200 response that may be
// served as it is and whose body is in memory, checked, and 416 when the
// range cannot be satisfied. Any other range request (several ranges,
// nothing fresh stored, a body streamed from a file, whose checksum is
// checked only at its end) goes to the origin as before, and a partial
// response is never stored.

// byteRange is a single range of a Range field: first-last, first- (last
// -1), or a suffix of length bytes (first -1).
type byteRange struct {
	first, last, suffix int64
}

// parseSingleRange parses a Range field of one "bytes" range; ok is false
// for anything else (several ranges, another unit, a malformed one).
func parseSingleRange(value string) (r byteRange, ok bool) {
	spec, found := strings.CutPrefix(trimOWS(value), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return byteRange{}, false
	}
	first, last, found := strings.Cut(trimOWS(spec), "-")
	if !found {
		return byteRange{}, false
	}
	if first == "" {
		n, ok := rangeNumber(last)
		return byteRange{first: -1, last: -1, suffix: n}, ok && n > 0
	}
	a, ok := rangeNumber(first)
	if !ok {
		return byteRange{}, false
	}
	if last == "" {
		return byteRange{first: a, last: -1}, true
	}
	b, ok := rangeNumber(last)
	return byteRange{first: a, last: b}, ok && b >= a
}

// rangeNumber parses a byte position: digits only, and no overflow.
func rangeNumber(s string) (int64, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, s != "" && err == nil
}

// within returns the range's first byte and length in a body of size
// bytes; ok is false when it cannot be satisfied (RFC 9110 §14.1.2).
func (r byteRange) within(size int64) (first, length int64, ok bool) {
	switch {
	case r.first < 0: // a suffix
		length = min(r.suffix, size)
		return size - length, length, length > 0
	case r.first >= size:
		return 0, 0, false
	case r.last < 0 || r.last >= size:
		return r.first, size - r.first, true
	}
	return r.first, r.last - r.first + 1, true
}

// ifRangeMatches reports whether If-Range, when the request has one, names
// the stored response (RFC 9110 §13.1.5): its strong ETag, or its exact
// Last-Modified date when that is strong. When it does not, the whole
// response answers.
func ifRangeMatches(req *http.Request, e *Entry) bool {
	value := fieldValue(req.Header, "If-Range")
	if value == "" {
		return true
	}
	f := e.responseFacts()
	if strings.HasPrefix(value, `"`) || strings.HasPrefix(value, "W/") {
		return f.etag != "" && value == f.etag && !strings.HasPrefix(value, "W/")
	}
	// A date names the stored response only when its Last-Modified is a
	// strong validator (RFC 9110 §13.1.5): one its Date is at least a
	// second after (§8.8.2.2). Within the same second the representation
	// could have changed twice, and two versions' bytes would be joined.
	date := parseHTTPDate(value)
	return !date.IsZero() && date.Equal(f.lastModified) && !f.date.IsZero() && !f.date.Before(f.lastModified.Add(time.Second))
}

// serveRange answers a single-range request from a stored response that
// may answer as it is: 206 with the range, 416 when it cannot be
// satisfied, or the whole response when If-Range does not name it.
func (t *Transport) serveRange(x *exchange, status CacheStatus) (*http.Response, error) {
	resp, err := t.serveStored(x, x.stored, nil, x.decision.age, status)
	if err == nil {
		t.stats.countHit(status, nil)
	}
	if err != nil || resp.StatusCode != http.StatusOK || !ifRangeMatches(x.req, x.stored) {
		return resp, err
	}
	size := resp.ContentLength
	if r := x.request.byteRange; size == 0 && r.first < 0 && r.suffix > 0 {
		// The one satisfiable range of an empty representation (RFC 9110
		// §14.1.1), which no 206 can express: the whole, empty, 200.
		return resp, nil
	}
	first, length, ok := x.request.byteRange.within(size)
	if !ok {
		resp.Body.Close()
		resp.StatusCode, resp.Status = http.StatusRequestedRangeNotSatisfiable, statusLine(http.StatusRequestedRangeNotSatisfiable)
		resp.Header.Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
		resp.Header.Set("Content-Length", "0")
		resp.Body, resp.ContentLength = http.NoBody, 0
		return resp, nil
	}
	if _, err := io.CopyN(io.Discard, resp.Body, first); err != nil {
		resp.Body.Close()
		return nil, err
	}
	resp.StatusCode, resp.Status = http.StatusPartialContent, statusLine(http.StatusPartialContent)
	resp.Header.Set("Content-Range", "bytes "+strconv.FormatInt(first, 10)+"-"+strconv.FormatInt(first+length-1, 10)+"/"+strconv.FormatInt(size, 10))
	resp.Header.Set("Content-Length", strconv.FormatInt(length, 10))
	body := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.LimitReader(body, length), body}
	resp.ContentLength = length
	return resp, nil
}
