package httpcache

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// A model-based fuzz target for the Transport: random sequences of
// requests (methods, URLs, users and their credentials, client
// directives, clock steps) go through a Transport against a scripted
// origin whose every response is unique and recorded. After each step:
// no panic; every body served is byte for byte one the origin sent for
// that URL and that user; nothing the origin sent with no-store (or, in a
// shared cache, private or with Set-Cookie) is in storage; the store stays
// within its bound.
//
// go test runs the seeds; run it longer by hand:
//
//	go test -run '^$' -fuzz '^FuzzTransportModel$' -fuzztime 5m .

// modelShapes are the responses the scripted origin gives, by the shape
// a request asks for.
var modelShapes = []struct {
	cacheControl string
	etag         bool
	setCookie    bool
	vary         string
}{
	{cacheControl: "max-age=60"},
	{cacheControl: "no-store"},
	{cacheControl: "private, max-age=60"},
	{cacheControl: "public, max-age=60"},
	{cacheControl: "max-age=0", etag: true},
	{cacheControl: "no-cache", etag: true},
	{cacheControl: "max-age=60, stale-while-revalidate=30", etag: true},
	{cacheControl: "max-age=60", setCookie: true},
	{cacheControl: "max-age=60", vary: "Accept"},
	{cacheControl: `max-age=60, no-cache="Set-Cookie"`, setCookie: true},
	{cacheControl: "s-maxage=60, max-age=0", etag: true},
	{cacheControl: "max-age=1, stale-if-error=60", etag: true},
}

var modelUsers = []func(*http.Request){
	nil,
	func(r *http.Request) { r.Header.Set("Authorization", "Bearer alice") },
	func(r *http.Request) { r.Header.Set("X-Api-Key", "bob") },
	func(r *http.Request) { r.Header["cookie"] = []string{"session=carol"} },
}

// sentResponse is what the origin sent: for which URL and user, and
// whether it may not be stored.
type sentResponse struct {
	path, user string
	unstorable bool
}

// modelOrigin answers every request with a body of its own, recording it.
type modelOrigin struct {
	mu      sync.Mutex
	shared  bool
	serial  int
	sent    map[string]sentResponse // by body
	version map[string]int          // by path: its ETag
	failing bool
}

func userOf(r *http.Request) string {
	for _, name := range []string{"Authorization", "X-Api-Key", "Cookie"} {
		if v := r.Header.Get(name); v != "" {
			return name + "=" + v
		}
	}
	// A cookie under a lower-case key, as net/http sends it.
	if v, _ := fieldValues(r.Header, "Cookie"); len(v) > 0 {
		return "Cookie=" + v[0]
	}
	return ""
}

func (o *modelOrigin) RoundTrip(req *http.Request) (*http.Response, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if req.Method == http.MethodPost {
		o.version[req.URL.Path]++
		return &http.Response{StatusCode: http.StatusNoContent, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
	}
	if o.failing {
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
	}
	shape := modelShapes[0]
	if i, err := strconv.Atoi(req.Header.Get("X-Shape")); err == nil && i >= 0 && i < len(modelShapes) {
		shape = modelShapes[i]
	}
	h := http.Header{"Cache-Control": {shape.cacheControl}}
	etag := `"` + req.URL.Path + strconv.Itoa(o.version[req.URL.Path]) + `"`
	if shape.etag {
		h.Set("ETag", etag)
		if req.Header.Get("If-None-Match") == etag {
			return &http.Response{StatusCode: http.StatusNotModified, Header: h, Body: http.NoBody, Request: req}, nil
		}
	}
	if shape.vary != "" {
		h.Set("Vary", shape.vary)
	}
	o.serial++
	body := fmt.Sprintf("%s|%s|%d", req.URL.Path, userOf(req), o.serial)
	if shape.setCookie {
		h.Set("Set-Cookie", "s="+strconv.Itoa(o.serial))
	}
	unstorable := strings.Contains(shape.cacheControl, "no-store") ||
		o.shared && (strings.HasPrefix(shape.cacheControl, "private") || shape.setCookie && !strings.Contains(shape.cacheControl, `no-cache="Set-Cookie"`))
	o.sent[body] = sentResponse{path: req.URL.Path, user: userOf(req), unstorable: unstorable}
	return &http.Response{StatusCode: 200, Header: h, ContentLength: int64(len(body)),
		Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
}

func FuzzTransportModel(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 3, 1, 0, 0})
	f.Add([]byte{0, 1, 1, 1, 0, 1, 2, 1, 0, 1, 1, 1, 4, 1, 1, 0})
	f.Add([]byte{0x80, 2, 1, 4, 5, 0, 0, 0, 0x80, 2, 1, 4, 1, 0, 0, 0, 0x80, 2, 2, 4})
	f.Add([]byte{0, 0, 3, 7, 0, 0, 0, 7, 2, 0, 0, 0, 0, 0, 3, 9, 0, 0, 3, 9})
	f.Add([]byte{0x81, 1, 1, 6, 4, 0, 0, 0, 0x81, 1, 1, 6, 6, 0, 0, 0, 0x81, 1, 1, 11})
	f.Fuzz(runModel)
}

// runModel runs one sequence of operations of FuzzTransportModel.
func runModel(t *testing.T, ops []byte) {
	{
		if len(ops) > 400 {
			ops = ops[:400]
		}
		shared := len(ops) > 0 && ops[0]&0x80 != 0
		origin := &modelOrigin{shared: shared, sent: map[string]sentResponse{}, version: map[string]int{}}
		clock := newTestClock()
		const bound = 64 << 10
		store := NewMemoryStorage(bound)
		tr := New(WithTransport(origin), WithStorage(store), WithShared(shared), WithClock(clock.Now))
		defer tr.Close()
		for i := 0; i+3 < len(ops); i += 4 {
			kind, path, user, shape := ops[i]&0x7f, "/r"+strconv.Itoa(int(ops[i+1]%4)), int(ops[i+2])%len(modelUsers), int(ops[i+3])%len(modelShapes)
			switch kind % 8 {
			case 4:
				clock.Advance(time.Duration(ops[i+1]) * time.Second)
				continue
			case 5:
				origin.mu.Lock()
				origin.failing = !origin.failing
				origin.mu.Unlock()
				continue
			}
			method := http.MethodGet
			switch kind % 8 {
			case 1:
				method = http.MethodHead
			case 2:
				method = http.MethodPost
			}
			req, _ := http.NewRequest(method, "http://api.example"+path, nil)
			req.Header.Set("X-Shape", strconv.Itoa(shape))
			if modelUsers[user] != nil {
				modelUsers[user](req)
			}
			switch kind % 8 {
			case 3:
				req.Header.Set("Cache-Control", "no-cache")
			case 6:
				req.Header.Set("Accept", "text/"+strconv.Itoa(user))
			case 7:
				req.Header.Set("Cache-Control", "max-stale=120")
			}
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatalf("step %d: %v", i/4, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("step %d: reading the body: %v", i/4, err)
			}
			if len(body) > 0 {
				origin.mu.Lock()
				sent, ok := origin.sent[string(body)]
				origin.mu.Unlock()
				if !ok {
					t.Fatalf("step %d: body %q was never sent by the origin", i/4, body)
				}
				if sent.path != path || sent.user != userOf(req) {
					t.Fatalf("step %d: %s for user %q got %q, sent for %s and %q", i/4, path, userOf(req), body, sent.path, sent.user)
				}
			}
			checkModelStore(t, i/4, store, origin)
		}
	}
}

// checkModelStore fails when the store holds a response that may not be
// stored, or is over its bound.
func checkModelStore(t *testing.T, step int, store *MemoryStorage, origin *modelOrigin) {
	t.Helper()
	if store.Size() > store.maxBytes {
		t.Fatalf("step %d: the store holds %d bytes, over its bound %d", step, store.Size(), store.maxBytes)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	origin.mu.Lock()
	defer origin.mu.Unlock()
	for _, item := range store.items {
		for _, e := range item.variants {
			body, _ := e.Body.(BytesBody)
			if sent, ok := origin.sent[string(body)]; ok && sent.unstorable {
				t.Fatalf("step %d: the store holds %q, sent as not to be stored", step, body)
			}
			for _, name := range []string{"Set-Cookie"} {
				if origin.shared && len(e.Header[name]) > 0 {
					t.Fatalf("step %d: a shared cache stored %s: %q", step, name, e.Header[name])
				}
			}
		}
	}
}
