package httpcache

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// Serving stored responses: the response a stored entry answers with, and
// the responses the cache makes itself (304 to a caller's validators, 504
// to only-if-cached).

// errUnreadableBody is serveStored's report that a stored body could not
// be opened (a store's file has gone or is corrupt): the entry cannot
// answer, and the response is fetched anew.
var errUnreadableBody = errors.New("httpcache: the stored body cannot be read")

// detailOnlyIfCached is the Cache-Status detail of the 504 that answers an
// only-if-cached request nothing stored can satisfy.
const detailOnlyIfCached = "only-if-cached"

// serveStored builds the response for a stored entry: its own header map
// and body reader, Age (RFC 9111 §4.2.3 and §5.1) and Cache-Status. It
// answers the caller's conditional request with 304 where it matches.
// fresh, when not nil, is the header of the 304 that just validated entry:
// its fields that storage withholds (withheldFrom: cookies, fields named
// by a qualified no-cache or private) answer this request, and only this
// one.
//
// It returns errUnreadableBody, having logged why, when the entry's body
// cannot be opened: the caller then fetches the response anew.
func (t *Transport) serveStored(x *exchange, entry *Entry, fresh http.Header, age time.Duration, status CacheStatus) (*http.Response, error) {
	req := x.req
	facts := entry.responseFacts()
	// A stored body in memory, served whole: one allocation holds the
	// response, its body reader and its header's values.
	stored, inMemory := entry.Body.(BytesBody)
	var served *servedResponse
	var backing []string
	if inMemory && req.Method != http.MethodHead && !x.request.conditional {
		served, backing = newServedResponse(facts.template.valueCount + 2)
	}
	header, spare := facts.template.cloneInto(backing, 2)
	// §5.2.2.4: fields named by a qualified no-cache are never sent from
	// storage; after a 304, the 304's own values of them are.
	for _, name := range facts.cc.noCacheFields {
		delete(header, name)
	}
	if fresh != nil {
		withheld := withheldFrom(entry, fresh)
		for name, values := range fresh {
			if withheld.has(name) {
				header[name] = values
			}
		}
	}
	spare[0], spare[1] = t.ageAndCacheStatus(entry, age, status)
	header["Age"], header["Cache-Status"] = spare[0:1:1], spare[1:2:2]
	t.logDecision(req, "serve stored", slog.Bool("hit", status.Hit), slog.Duration("age", age))
	if x.request.conditional && storedNotModified(req, entry.StatusCode, header) {
		return notModifiedResponse(req, header), nil
	}
	if inMemory && req.Method != http.MethodHead {
		if served == nil {
			served = &servedResponse{}
		}
		served.body.Reset(stored)
		served.response = storedResponse(req, entry.StatusCode, header)
		served.response.Body, served.response.ContentLength = &served.body, int64(len(stored))
		return &served.response, nil
	}
	resp := storedResponse(req, entry.StatusCode, header)
	if entry.Body == nil {
		return &resp, nil
	}
	resp.ContentLength = entry.Body.Size()
	if req.Method == http.MethodHead {
		return &resp, nil
	}
	reader, err := entry.Body.Open()
	if err != nil {
		t.storageErrors.log(req.Context(), "open body", cacheKey(req.URL), err)
		return nil, errUnreadableBody
	}
	resp.Body = reader
	return &resp, nil
}

// servedResponse holds a response served from storage together with its
// body reader.
type servedResponse struct {
	response http.Response
	body     bytesBodyReader
}

// servedResponse8, servedResponse16 and servedResponse32 are a
// servedResponse with room for its header's values
// (headerTemplate.cloneInto), allocated with it: a few sizes, so that a
// small header pays for no room it leaves unused and the header of a
// typical API response (a dozen fields, Age and Cache-Status) for no
// allocation of its own.
type (
	servedResponse8 struct {
		servedResponse
		values [8]string
	}
	servedResponse16 struct {
		servedResponse
		values [16]string
	}
	servedResponse32 struct {
		servedResponse
		values [32]string
	}
)

// newServedResponse returns a servedResponse, in one allocation with room
// for values header values when they fit one of the sizes; backing is that
// room, nil when they do not fit.
func newServedResponse(values int) (served *servedResponse, backing []string) {
	switch {
	case values <= len(servedResponse8{}.values):
		s := new(servedResponse8)
		return &s.servedResponse, s.values[:]
	case values <= len(servedResponse16{}.values):
		s := new(servedResponse16)
		return &s.servedResponse, s.values[:]
	case values <= len(servedResponse32{}.values):
		s := new(servedResponse32)
		return &s.servedResponse, s.values[:]
	}
	return new(servedResponse), nil
}

// storedResponse is a response made by the cache, with no body yet.
func storedResponse(req *http.Request, status int, header http.Header) http.Response {
	return http.Response{
		Status:     statusLine(status),
		StatusCode: status,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     header,
		Body:       http.NoBody,
		Request:    req,
	}
}

// ageAndCacheStatus returns the Age and Cache-Status values of a served
// entry. Those of plain hits are cached on the entry for the second they
// hold in, so that most hits format nothing.
func (t *Transport) ageAndCacheStatus(entry *Entry, age time.Duration, status CacheStatus) (ageValue, cacheStatus string) {
	age = age.Truncate(time.Second)
	// Plain hits, fresh or stale-while-revalidate, are cached.
	cacheable := isPlainHit(status)
	ttl := time.Duration(ttlSeconds(status.TTL)) * time.Second // as the header says it
	if cacheable {
		if f := entry.hit.Load(); f != nil && f.age == age && f.ttl == ttl && f.name == t.cfg.name {
			return f.ageValue, f.cacheStatus
		}
	}
	return t.formatAgeAndCacheStatus(entry, age, ttl, status, cacheable)
}

// isPlainHit reports a Cache-Status that is hit and a ttl, nothing else:
// status == CacheStatus{Hit: true, TTL: status.TTL, HasTTL: true}, without
// the call to the struct's generated equality. A field added to
// CacheStatus must be added here (TestIsPlainHitSeesEveryField).
func isPlainHit(status CacheStatus) bool {
	return status.Hit && status.HasTTL && status.Forward == "" && status.ForwardStatus == 0 &&
		!status.Stored && !status.Collapsed && status.Detail == ""
}

// formatAgeAndCacheStatus formats what ageAndCacheStatus did not find, and
// keeps a plain hit's values on the entry. An entry served once only, as
// one a store decodes for each hit is, keeps no record: the first hit
// marks it seen, the next ones keep theirs.
func (t *Transport) formatAgeAndCacheStatus(entry *Entry, age, ttl time.Duration, status CacheStatus, cacheable bool) (ageValue, cacheStatus string) {
	ageValue = durationSeconds(age)
	cacheStatus = cacheStatusValue(entry.Header["Cache-Status"], t.cfg.name, status)
	if cacheable && !entry.hit.CompareAndSwap(nil, hitSeen) {
		entry.hit.Store(&hitFields{name: t.cfg.name, age: age, ttl: ttl, ageValue: ageValue, cacheStatus: cacheStatus})
	}
	return ageValue, cacheStatus
}

// hitSeen marks an entry served once (ageAndCacheStatus): its age matches
// none a hit has.
var hitSeen = &hitFields{age: -1}

// notModifiedResponse answers a conditional request with 304 and the fields
// RFC 9110 §15.4.5 lists, plus Age and Cache-Status.
func notModifiedResponse(req *http.Request, full http.Header) *http.Response {
	header := make(http.Header, len(notModifiedFields))
	for _, name := range notModifiedFields {
		if values, ok := full[name]; ok {
			header[name] = values
		}
	}
	resp := storedResponse(req, http.StatusNotModified, header)
	return &resp
}

// gatewayTimeout answers an only-if-cached request that nothing stored can
// satisfy (RFC 9111 §5.2.1.7).
func (t *Transport) gatewayTimeout(req *http.Request, forward string) *http.Response {
	t.stats.onlyIfCached504.Add(1)
	t.logDecision(req, "only-if-cached: nothing usable stored", slog.String("fwd", forward))
	header := http.Header{"Content-Length": {"0"}}
	setCacheStatus(header, t.cfg.name, CacheStatus{Detail: detailOnlyIfCached})
	resp := storedResponse(req, http.StatusGatewayTimeout, header)
	return &resp
}

// statusLines holds "200 OK" and the like by code, built once: an index,
// not a map lookup, on every hit.
var statusLines = func() (lines [600]string) {
	for code := range lines {
		if text := http.StatusText(code); text != "" {
			lines[code] = strconv.Itoa(code) + " " + text
		}
	}
	return lines
}()

// statusLine returns the status line net/http would give code: "200 OK",
// or the code alone when it has no text.
func statusLine(code int) string {
	if code >= 0 && code < len(statusLines) && statusLines[code] != "" {
		return statusLines[code]
	}
	return strconv.Itoa(code)
}
