package httpcache

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// WithSortedQuery promises that "parameters of the same name keep their
// order, since ?a=1&a=2 may differ from ?a=2&a=1", and the ignoring code
// keeps every '&'-part holding a ';' because "some servers split
// parameters on ';' too". Sorting moves whole '&'-parts by the name before
// their first '=', so a parameter after a ';' moved with its part: for an
// origin that splits on ';' (Rails, older Python), "b=1;a=1&a=2" sends
// a = [1 2] and "a=2&b=1;a=1" sends a = [2 1], yet both got the key
// "?a=2&b=1;a=1", and the second request was served the first one's
// response (found by a review). A query holding a ';' is not sorted.
func TestSortedQuerySemicolonReordersRepeatedName(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var as []string
		for _, part := range strings.FieldsFunc(r.URL.RawQuery, func(c rune) bool { return c == '&' || c == ';' }) {
			if name, value, _ := strings.Cut(part, "="); name == "a" {
				as = append(as, value)
			}
		}
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "a="+strings.Join(as, ","))
	}))
	defer origin.Close()
	tr := New(WithTransport(http.DefaultTransport), WithSortedQuery(true))
	defer tr.Close()
	client := &http.Client{Transport: tr}
	get := func(q string) string {
		resp, err := client.Get(origin.URL + "/v1?" + q)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}
	if got := get("b=1;a=1&a=2"); got != "a=1,2" {
		t.Fatalf("first request: %q", got)
	}
	if got := get("a=2&b=1;a=1"); got != "a=2,1" {
		t.Errorf(`"a=2&b=1;a=1" (a = [2 1] for a ';'-splitting origin) was served %q, the answer to "b=1;a=1&a=2"`, got)
	}
}
