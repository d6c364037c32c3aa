package httpcache

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// leakDiskScan runs one GET through a Transport on a DiskStorage and
// reports the files whose bytes hold secret.
func leakDiskScan(t *testing.T, secret string, respHeader http.Header, build func() *http.Request, opts ...Option) []string {
	t.Helper()
	dir := t.TempDir()
	store, err := NewDiskStorage(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	up := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		h := respHeader.Clone()
		h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
		return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(strings.NewReader("body")), ContentLength: 4, Request: req}, nil
	})
	tr := New(append([]Option{WithTransport(up), WithStorage(store), WithSynchronousWrites(true)}, opts...)...)
	resp, err := tr.RoundTrip(build())
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	tr.Close()
	stored := 0
	var leaks []string
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		stored++
		b, _ := os.ReadFile(path)
		if bytes.Contains(b, []byte(secret)) || strings.Contains(path, secret) {
			leaks = append(leaks, path)
		}
		return nil
	})
	if stored == 0 {
		t.Fatalf("nothing was stored; the probe proves nothing")
	}
	return leaks
}

// TestSetCookieInClearOnDisk: a private cache stored a response that sets
// a cookie "cookie and all": on a DiskStorage without a Keyring the
// session cookie sat in a file in clear (promise 6). It is stored without
// the cookie.
func TestSetCookieInClearOnDisk(t *testing.T) {
	leaks := leakDiskScan(t, "sessionS3CRETleak", http.Header{
		"Cache-Control": {"max-age=60"},
		"Set-Cookie":    {"session=sessionS3CRETleak; HttpOnly; Secure"},
	}, func() *http.Request {
		req, _ := http.NewRequest("GET", "https://app.example/login", nil)
		return req
	})
	if len(leaks) > 0 {
		t.Errorf("a Set-Cookie value is at rest in clear in %v", leaks)
	}
}

// TestVaryAuthorizationOutsideConfiguredSetOnDisk: Authorization is a
// credential whatever WithCredentialFields says (the policy applies §3.5
// to it in any configuration), but with a set that left it out, a
// response with Vary: Authorization was stored with the request's bearer
// token in its variant, in clear. Authorization is now always in the set.
func TestVaryAuthorizationOutsideConfiguredSetOnDisk(t *testing.T) {
	leaks := leakDiskScan(t, "bearerS3CRETleak", http.Header{
		"Cache-Control": {"max-age=60"},
		"Vary":          {"Authorization"},
	}, func() *http.Request {
		req, _ := http.NewRequest("GET", "https://api.example/me", nil)
		req.Header.Set("Authorization", "Bearer bearerS3CRETleak")
		req.Header.Set("X-Tenant-Key", "tenant1")
		return req
	}, WithCredentialFields("X-Tenant-Key"))
	if len(leaks) > 0 {
		t.Errorf("an Authorization value is at rest in clear in %v", leaks)
	}
}

// TestSemicolonQueryTokenOnDisk: a token after a ';' in the query was in
// keys in clear; some servers split parameters on ';' too.
func TestSemicolonQueryTokenOnDisk(t *testing.T) {
	leaks := leakDiskScan(t, "semiS3CRETleak", http.Header{"Cache-Control": {"max-age=60"}}, func() *http.Request {
		req, _ := http.NewRequest("GET", "https://api.example/v1?page=1;access_token=semiS3CRETleak", nil)
		return req
	})
	if len(leaks) > 0 {
		t.Errorf("a ';'-separated access_token is at rest in clear in %v", leaks)
	}
}
