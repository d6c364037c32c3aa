package httpcache

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// redactor.secrets added the fragment as Fragment (decoded) and
// RawFragment, but RawFragment is empty whenever the default escaping
// reproduces the fragment as written, e.g. "%20". url.URL.String() writes
// the escaped form ("scope=openid%20email"), which is neither, so a
// message naming the URL (a panic "%v" of req.URL, a retrying transport's
// "GET <url> giving up") kept the implicit-flow access token in clear (an
// OAuth callback with a space-separated scope is the common case). Found
// by a review; the escaped form and the fragment's secret values are
// replaced too.
func TestEscapedFragmentTokenInPanicMessage(t *testing.T) {
	logger, buf := leakLogger()
	up := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		panic(fmt.Sprintf("unexpected request %v", req.URL))
	})
	tr := New(WithTransport(up), WithLogger(logger))
	defer tr.Close()
	req, _ := http.NewRequest("GET", "https://app.example/callback#access_token="+leakSecret+"&token_type=bearer&scope=openid%20email", nil)
	if req.URL.RawFragment != "" {
		t.Fatalf("RawFragment %q: the probe needs a fragment whose escaping is the default", req.URL.RawFragment)
	}
	func() {
		defer func() { recover() }()
		_, err := tr.RoundTrip(req)
		if err != nil && strings.Contains(err.Error(), leakSecret) {
			t.Errorf("the returned error holds the fragment's token: %v", err)
		}
	}()
	if strings.Contains(buf.String(), leakSecret) {
		t.Errorf("the log holds the fragment's token:\n%s", buf.String())
	}
}
