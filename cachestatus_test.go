package httpcache

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dunglas/httpsfv"
)

func TestStatusOf(t *testing.T) {
	tests := []struct {
		name   string
		header []string
		want   CacheStatus
		ok     bool
	}{
		{name: "no header", want: CacheStatus{}, ok: false},
		{name: "RFC 9211 §2.1 hit with ttl", header: []string{"httpcache; hit; ttl=42"}, want: CacheStatus{Hit: true, TTL: 42 * time.Second, HasTTL: true}, ok: true},
		{name: "RFC 9211 §2 the last member is this cache's", header: []string{"cdn; hit, httpcache; fwd=uri-miss; fwd-status=200; stored"},
			want: CacheStatus{Forward: ForwardURIMiss, ForwardStatus: 200, Stored: true}, ok: true},
		{name: "RFC 9211 §2 across field lines", header: []string{"cdn; hit", "httpcache; fwd=stale; fwd-status=304; ttl=-5"},
			want: CacheStatus{Forward: ForwardStale, ForwardStatus: 304, TTL: -5 * time.Second, HasTTL: true}, ok: true},
		{name: "RFC 9211 §2.8 detail", header: []string{`httpcache; fwd=uri-miss; detail="no-store"`},
			want: CacheStatus{Forward: ForwardURIMiss, Detail: "no-store"}, ok: true},
		{name: "RFC 9211 §2.7 collapsed", header: []string{"httpcache; fwd=uri-miss; collapsed"},
			want: CacheStatus{Forward: ForwardURIMiss, Collapsed: true}, ok: true},
		{name: "unknown parameters ignored", header: []string{"httpcache; hit; key=abc"}, want: CacheStatus{Hit: true}, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{Header: http.Header{}}
			if tt.header != nil {
				resp.Header["Cache-Status"] = tt.header
			}
			got, ok := StatusOf(resp)
			if got != tt.want || ok != tt.ok {
				t.Errorf("StatusOf = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// FuzzStatusOf checks that any header parses without panicking and that
// every status the cache writes reads back the same.
func FuzzStatusOf(f *testing.F) {
	f.Add("cdn; hit, httpcache; fwd=stale; fwd-status=304; ttl=60", true, "stale", 304, int64(60), true, "no-store")
	f.Add(`;;,=,"`, false, "", 0, int64(-1), false, "")
	f.Fuzz(func(t *testing.T, raw string, hit bool, forward string, forwardStatus int, ttl int64, stored bool, detail string) {
		StatusOf(&http.Response{Header: http.Header{"Cache-Status": {raw}}})

		if strings.ContainsAny(forward+detail, ";,=\" \t") || forwardStatus < 0 || forwardStatus > 999 || ttl > 1<<31 || ttl < -(1<<31) ||
			forward != "" && (!isToken(forward) || !isSFTokenStart(forward[0])) ||
			strings.ContainsFunc(detail, func(r rune) bool { return r < 0x20 || r > 0x7e || r == '\\' }) {
			return // not values the cache writes
		}
		want := CacheStatus{Hit: hit, Forward: forward, ForwardStatus: forwardStatus, TTL: time.Duration(ttl) * time.Second,
			HasTTL: true, Stored: stored, Detail: detail}
		h := http.Header{"Cache-Status": {raw}}
		setCacheStatus(h, "httpcache", want)
		got, ok := StatusOf(&http.Response{Header: h})
		if !ok || got != want {
			t.Fatalf("wrote %+v, read %+v from %q", want, got, h.Get("Cache-Status"))
		}
	})
}

// statusBySFV reads the last member of a Cache-Status field with an
// independent Structured Fields parser (github.com/dunglas/httpsfv), as
// RFC 9211 defines its parameters.
func statusBySFV(lines []string) (CacheStatus, bool) {
	list, err := httpsfv.UnmarshalList(lines)
	if err != nil || len(list) == 0 {
		return CacheStatus{}, false
	}
	var params *httpsfv.Params
	switch m := list[len(list)-1].(type) {
	case httpsfv.Item:
		params = m.Params
	case httpsfv.InnerList:
		params = m.Params
	}
	var status CacheStatus
	for _, name := range params.Names() {
		v, _ := params.Get(name)
		switch name {
		case "hit":
			status.Hit = v == true
		case "fwd":
			if tok, ok := v.(httpsfv.Token); ok {
				status.Forward = string(tok)
			}
		case "fwd-status":
			if n, ok := v.(int64); ok {
				status.ForwardStatus = int(n)
			}
		case "ttl":
			if n, ok := v.(int64); ok {
				status.TTL, status.HasTTL = secondsDuration(n), true
			}
		case "stored":
			status.Stored = v == true
		case "collapsed":
			status.Collapsed = v == true
		case "detail":
			switch d := v.(type) {
			case httpsfv.Token:
				status.Detail = string(d)
			case string:
				status.Detail = d
			}
		}
	}
	return status, true
}

// StatusOf reads any valid Cache-Status as an independent Structured
// Fields parser does (quoted strings with escapes, parameters in any
// order, members of other caches, inner lists), and refuses what it
// refuses.
func TestStatusOfAgreesWithAStructuredFieldsParser(t *testing.T) {
	for _, lines := range sfvSeeds {
		checkAgainstSFV(t, lines)
	}
}

var sfvSeeds = [][]string{
	{`cdn; hit, httpcache; fwd=uri-miss; fwd-status=200; stored`},
	{`"Other Cache"; hit; detail="a \"quoted\", string", httpcache; ttl=-12; hit`},
	{`cdn; hit`, `httpcache; detail=no-store; fwd=uri-miss`},
	{`(a b);x=1, httpcache; collapsed; fwd=request`},
	{`httpcache; hit=?0; stored=?1; ttl=5.5`},
	{`httpcache; fwd-status=200; fwd-status=304`},
	{`httpcache;hit ;ttl=1`},
	{`httpcache; ttl=9999999999999999`},
	{`cdn; hit,`},
	{`, httpcache; hit`},
	{`httpcache; detail="bad \q escape"`},
	{`httpcache; HIT`},
	{`1cache; hit`},
	{`httpcache; key=:aGVsbG8=:; hit`},
	{``},
	{`httpcache; hit`, ``},
}

func checkAgainstSFV(t *testing.T, lines []string) {
	t.Helper()
	want, wantOK := statusBySFV(lines)
	got, ok := StatusOf(&http.Response{Header: http.Header{"Cache-Status": lines}})
	if ok != wantOK || got != want {
		t.Errorf("%q: StatusOf = %+v, %v; a Structured Fields parser reads %+v, %v", lines, got, ok, want, wantOK)
	}
}

func FuzzStatusOfAgreesWithAStructuredFieldsParser(f *testing.F) {
	for _, lines := range sfvSeeds {
		f.Add(strings.Join(lines, "\n"))
	}
	f.Fuzz(func(t *testing.T, raw string) {
		checkAgainstSFV(t, strings.Split(raw, "\n"))
	})
}

// TestStaleStatus: the header rounds a TTL up, so that a fresh response
// says ttl=1 or more and one at or past its freshness ttl=0 or less (a
// stale one and a fresh one both said ttl=0 before), and Stale tells stale
// responses apart, read back from the header as from the Transport.
func TestStaleStatus(t *testing.T) {
	tests := []struct {
		status    CacheStatus
		wantTTL   string
		wantStale bool
	}{
		{CacheStatus{Hit: true, TTL: 500 * time.Millisecond, HasTTL: true}, "ttl=1", false},
		{CacheStatus{Hit: true, TTL: time.Nanosecond, HasTTL: true}, "ttl=1", false},
		{CacheStatus{Hit: true, TTL: 0, HasTTL: true}, "ttl=0", true}, // age == lifetime: stale (§4.2)
		{CacheStatus{Hit: true, TTL: -500 * time.Millisecond, HasTTL: true}, "ttl=0", true},
		{CacheStatus{Hit: true, TTL: -12 * time.Second, HasTTL: true}, "ttl=-12", true},
		{CacheStatus{Hit: true, TTL: -12500 * time.Millisecond, HasTTL: true}, "ttl=-12", true},
		{CacheStatus{Forward: ForwardStale, ForwardStatus: 503, TTL: -20 * time.Second, HasTTL: true, Detail: detailStaleIfError}, "ttl=-20", true},
		{CacheStatus{Forward: ForwardStale, ForwardStatus: 304, TTL: time.Minute, HasTTL: true}, "ttl=60", false},
		{CacheStatus{Forward: ForwardStale, ForwardStatus: 200, TTL: -time.Second, HasTTL: true}, "ttl=-1", false},
	}
	for _, tt := range tests {
		value := cacheStatusValue(nil, "httpcache", tt.status)
		if !strings.Contains(value, tt.wantTTL) {
			t.Errorf("%+v: %q, want %s", tt.status, value, tt.wantTTL)
		}
		if tt.status.Stale() != tt.wantStale {
			t.Errorf("%+v: Stale() = %v", tt.status, !tt.wantStale)
		}
		parsed, ok := StatusOf(&http.Response{Header: http.Header{"Cache-Status": {value}}})
		if !ok || parsed.Stale() != tt.wantStale {
			t.Errorf("%q read back: Stale() = %v", value, parsed.Stale())
		}
	}
}

// TestStaleAtExactLifetime: a response whose age equals its lifetime is
// stale (fresh is age < lifetime, RFC 9111 §4.2), served under
// stale-while-revalidate with a TTL of 0: Stale() holds, and the header's
// ttl=0 is no fresh hit's (Stale() was false, as for a fresh hit, before).
func TestStaleAtExactLifetime(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=60")
		fmt.Fprint(w, "x")
	})
	h.get("/a")
	h.transport.waitForWrites()
	h.clock.Advance(10 * time.Second)
	r := h.get("/a")
	t.Logf("Cache-Status: %q", r.header.Get("Cache-Status"))
	time.Sleep(300 * time.Millisecond)
	if h.requests.Load() != 2 {
		t.Fatalf("no background revalidation: %d", h.requests.Load())
	}
	if r.cache.Hit && !r.cache.Stale() {
		t.Fatalf("a stale (age == lifetime, revalidated in background: origin requests %d) hit reports Stale() false", h.requests.Load())
	}
}

// TestIsPlainHitSeesEveryField changes each field of a plain hit's
// Cache-Status in turn: every change but TTL's makes it no plain hit, as
// the struct comparison isPlainHit stands for would.
func TestIsPlainHitSeesEveryField(t *testing.T) {
	plain := CacheStatus{Hit: true, TTL: 5 * time.Second, HasTTL: true}
	if !isPlainHit(plain) {
		t.Fatalf("%+v is a plain hit", plain)
	}
	typ := reflect.TypeFor[CacheStatus]()
	for i := range typ.NumField() {
		status := plain
		field := reflect.ValueOf(&status).Elem().Field(i)
		switch field.Kind() {
		case reflect.Bool:
			field.SetBool(!field.Bool())
		case reflect.String:
			field.SetString("x")
		case reflect.Int, reflect.Int64:
			field.SetInt(field.Int() + 1)
		default:
			t.Fatalf("field %s of kind %s: teach this test and isPlainHit about it", typ.Field(i).Name, field.Kind())
		}
		want := status == CacheStatus{Hit: true, TTL: status.TTL, HasTTL: true}
		if got := isPlainHit(status); got != want {
			t.Errorf("%s changed: isPlainHit = %v, want %v", typ.Field(i).Name, got, want)
		}
	}
}
