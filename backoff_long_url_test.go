package httpcache

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// A 429 with Retry-After for a URL of 5,000 bytes, no Vary: the same
// request during the back-off gets the answer whole (its body and
// header), as a short URL's does: maxAnsweredVariant bounds what a
// back-off keeps beside the key, not the key.
func TestBackoffLongURLReplaysWhole(t *testing.T) {
	for _, n := range []int{10, 5000} {
		upstream := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			h := http.Header{"Retry-After": {"600"}, "X-Quota": {"exhausted"}}
			return &http.Response{StatusCode: 429, Status: "429 Too Many Requests", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header: h, Body: io.NopCloser(strings.NewReader("slow down")), ContentLength: 9, Request: req}, nil
		})
		tr := must(NewTransport(WithTransport(upstream)))
		url := "http://origin.example/" + strings.Repeat("a", n)
		var bodies []string
		var quotas []string
		for i := 0; i < 2; i++ {
			req, _ := http.NewRequest("GET", url, nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			bodies = append(bodies, string(b))
			quotas = append(quotas, resp.Header.Get("X-Quota"))
		}
		tr.Close()
		if bodies[1] != "slow down" || quotas[1] != "exhausted" {
			t.Errorf("path of %d bytes: the replay to the same request got body %q, X-Quota %q; want the answer whole (first: %q)", n, bodies[1], quotas[1], bodies[0])
		}
	}
}
