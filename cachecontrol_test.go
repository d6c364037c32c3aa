package httpcache

import (
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseCacheControl(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  cacheControl
	}{
		{"empty", nil, cacheControl{}},
		{"§5.2 names are case-insensitive", []string{"Max-Age=5, NO-STORE"},
			cacheControl{maxAge: deltaSeconds{present: true, seconds: 5}, noStore: true}},
		{"§5.2 several field lines combine", []string{"max-age=5", "public"},
			cacheControl{maxAge: deltaSeconds{present: true, seconds: 5}, public: true}},
		{"§5.2.3 unknown directives ignored", []string{"foo, bar=\"x,y\", max-age=9"},
			cacheControl{maxAge: deltaSeconds{present: true, seconds: 9}}},
		{"§5.2 quoted argument", []string{`max-age="7"`}, cacheControl{maxAge: deltaSeconds{present: true, seconds: 7}}},
		{"§4.2.1 duplicate: first counts", []string{"max-age=1, max-age=2"}, cacheControl{maxAge: deltaSeconds{present: true, seconds: 1}}},
		{"§4.2.1 invalid value recorded as invalid", []string{"max-age=1.5"}, cacheControl{maxAge: deltaSeconds{present: true, invalid: true}}},
		{"§1.2.2 negative value invalid", []string{"max-age=-1"}, cacheControl{maxAge: deltaSeconds{present: true, invalid: true}}},
		{"§1.2.2 missing value invalid", []string{"max-age"}, cacheControl{maxAge: deltaSeconds{present: true, invalid: true}}},
		{"§1.2.2 overflow capped", []string{"s-maxage=4294967296"}, cacheControl{sMaxAge: deltaSeconds{present: true, seconds: maxDeltaSeconds}}},
		{"§5.2.1.2 max-stale without value", []string{"max-stale"}, cacheControl{maxStale: deltaSeconds{present: true, seconds: maxDeltaSeconds}}},
		{"§5.2.1.2 max-stale with value", []string{"max-stale=30"}, cacheControl{maxStale: deltaSeconds{present: true, seconds: 30}}},
		{"§5.2.2.4 qualified no-cache with a comma in quotes", []string{`no-cache="set-cookie, x-a", max-age=3`},
			cacheControl{noCache: true, noCacheFields: []string{"Set-Cookie", "X-A"}, maxAge: deltaSeconds{present: true, seconds: 3}}},
		{"§5.2.2.7 qualified private", []string{`private="x-user"`}, cacheControl{private: true, privateFields: []string{"X-User"}}},
		{"white space and empty members", []string{" ,, public ,\tmust-revalidate , "}, cacheControl{public: true, mustRevalidate: true}},
		{"all boolean directives", []string{"no-cache, no-store, private, public, must-revalidate, proxy-revalidate, must-understand, immutable, only-if-cached, no-transform"},
			cacheControl{noCache: true, noCacheUnqualified: true, noStore: true, private: true, privateUnqualified: true, public: true,
				mustRevalidate: true, proxyRevalidate: true, mustUnderstand: true, immutable: true, onlyIfCached: true, noTransform: true}},
		{"RFC 5861 windows", []string{"stale-while-revalidate=30, stale-if-error=600"},
			cacheControl{staleWhileRevalidate: deltaSeconds{present: true, seconds: 30}, staleIfError: deltaSeconds{present: true, seconds: 600}}},
		{"unterminated quote", []string{`no-cache="x-a, max-age=3`}, cacheControl{noCache: true, noCacheFields: []string{"X-A"}}},
		// §5.2.2.4, §5.2.2.7: the unqualified form wins over the qualified
		// one, in any order and on any line; a qualified form naming no field
		// counts as unqualified.
		{"unqualified private before qualified", []string{`private, private="Set-Cookie"`},
			cacheControl{private: true, privateUnqualified: true, privateFields: []string{"Set-Cookie"}}},
		{"unqualified private after qualified", []string{`private="Set-Cookie", private`},
			cacheControl{private: true, privateUnqualified: true, privateFields: []string{"Set-Cookie"}}},
		{"unqualified private on another line", []string{`private="Set-Cookie"`, "private"},
			cacheControl{private: true, privateUnqualified: true, privateFields: []string{"Set-Cookie"}}},
		{"unqualified no-cache before qualified", []string{`no-cache, no-cache="Set-Cookie"`},
			cacheControl{noCache: true, noCacheUnqualified: true, noCacheFields: []string{"Set-Cookie"}}},
		{"unqualified no-cache after qualified", []string{`no-cache="Set-Cookie", no-cache`},
			cacheControl{noCache: true, noCacheUnqualified: true, noCacheFields: []string{"Set-Cookie"}}},
		{"unqualified no-cache on another line", []string{`no-cache="Set-Cookie"`, "no-cache"},
			cacheControl{noCache: true, noCacheUnqualified: true, noCacheFields: []string{"Set-Cookie"}}},
		{"qualified no-cache alone", []string{`no-cache="Set-Cookie"`}, cacheControl{noCache: true, noCacheFields: []string{"Set-Cookie"}}},
		{"qualified private alone", []string{`private="Set-Cookie"`}, cacheControl{private: true, privateFields: []string{"Set-Cookie"}}},
		{"no-cache naming no field", []string{`no-cache=""`}, cacheControl{noCache: true, noCacheUnqualified: true}},
		{"private naming no field", []string{`private=", ,"`}, cacheControl{private: true, privateUnqualified: true}},
		{"spaces around =", []string{"max-age = 8"}, cacheControl{maxAge: deltaSeconds{present: true, seconds: 8}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.lines != nil {
				h["Cache-Control"] = tt.lines
			}
			got := parseCacheControl(h)
			if got.present != (tt.lines != nil) {
				t.Errorf("present = %v for %q", got.present, tt.lines)
			}
			got.present = false
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseCacheControl(%q)\n got %+v\nwant %+v", tt.lines, got, tt.want)
			}
		})
	}
}

func FuzzParseCacheControl(f *testing.F) {
	for _, seed := range []string{
		"max-age=60", `no-cache="a, b", private`, "max-stale", "s-maxage=99999999999999999999",
		`x="\"", max-age="5"`, ",,,", "=", `"`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cc := parseCacheControl(http.Header{"Cache-Control": {line}})
		for _, d := range []deltaSeconds{cc.maxAge, cc.sMaxAge, cc.maxStale, cc.minFresh, cc.staleWhileRevalidate, cc.staleIfError} {
			if d.seconds < 0 || d.seconds > maxDeltaSeconds {
				t.Fatalf("delta-seconds out of range: %+v from %q", d, line)
			}
			if d.invalid && d.seconds != 0 {
				t.Fatalf("invalid directive with a value: %+v from %q", d, line)
			}
		}
	})
}

// TestFieldNameListsAreBounded: a qualified no-cache or private listing
// more than maxFieldNames names counts as unqualified, and a Vary listing
// more as "*": each then restricts the whole response, the safe reading,
// and no entry holds thousands of parsed names.
func TestFieldNameListsAreBounded(t *testing.T) {
	names := func(n int) string {
		list := make([]string, n)
		for i := range list {
			list[i] = "x-" + strconv.Itoa(i)
		}
		return strings.Join(list, ", ")
	}
	for _, n := range []int{maxFieldNames, maxFieldNames + 1, 5000} {
		over := n > maxFieldNames
		cc := parseCacheControl(http.Header{"Cache-Control": {`no-cache="` + names(n) + `", private="` + names(n) + `"`}})
		if cc.noCacheUnqualified != over || cc.privateUnqualified != over || len(cc.noCacheFields) > maxFieldNames || len(cc.privateFields) > maxFieldNames {
			t.Errorf("%d names: no-cache unqualified %v (%d names), private unqualified %v (%d names)",
				n, cc.noCacheUnqualified, len(cc.noCacheFields), cc.privateUnqualified, len(cc.privateFields))
		}
		vary, star := varyFieldNames(http.Header{"Vary": {names(n)}})
		if star != over || len(vary) > maxFieldNames || !over && len(vary) != n {
			t.Errorf("Vary of %d names: star %v, %d names", n, star, len(vary))
		}
	}
}
