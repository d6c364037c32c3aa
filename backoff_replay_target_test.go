package httpcache

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBackoffReplaysAnAnswerToItsTargetOnly: many APIs carry the
// caller's key in the path (Infura "/v3/<key>", Telegram
// "/bot<token>/..."). A back-off holds the origin and partition (the
// README's "for that origin, for that partition"), but the answer's
// header and body go again only to a request of the key (URL and
// partition) that got them; another URL gets the status and Retry-After
// alone. One key's 429, "quota exhausted for alice@example.com", was
// replayed whole to a request for another key's URL.
func TestBackoffReplaysAnAnswerToItsTargetOnly(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v3/alice-key") {
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, "quota exhausted for alice@example.com")
			return
		}
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "data for "+r.URL.Path)
	}))
	defer origin.Close()
	tr := New()
	defer tr.Close()
	client := &http.Client{Transport: tr}
	get := func(path string) (string, *http.Response) {
		resp, err := client.Get(origin.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b), resp
	}
	get("/v3/alice-key")
	body, resp := get("/v3/bob-key")
	if strings.Contains(body, "alice") || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("bob's /v3/bob-key got %d %q (Cache-Status %q, Retry-After %q): alice's answer replayed to another request target, or no back-off",
			resp.StatusCode, body, resp.Header.Get("Cache-Status"), resp.Header.Get("Retry-After"))
	}
	if again, resp := get("/v3/alice-key"); again != "quota exhausted for alice@example.com" || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("alice's own URL during the back-off got %d %q, want her 429 again", resp.StatusCode, again)
	}
}
