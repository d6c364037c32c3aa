package httpcache

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// redactor.text replaced the URL's secrets in the form url.URL holds them
// (User.Password() decoded), but a message names the URL as
// url.URL.String() writes it, with the user information escaped: a
// password holding '@', '/', '?' or ':' reached the log and the returned
// error (escaped) through a panic value. Found by a review; the escaped
// forms are replaced too.
func TestPanicEscapedPasswordInLog(t *testing.T) {
	const tail = "ETleaktok"
	logger, buf := leakLogger()
	up := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		panic(fmt.Sprintf("unexpected request %v", req.URL))
	})
	tr := New(WithTransport(up), WithLogger(logger))
	defer tr.Close()
	req, _ := http.NewRequest("GET", "https://alice:S3CR%40"+tail+"@api.example/v1", nil)
	_, err := tr.RoundTrip(req)
	if err != nil && strings.Contains(err.Error(), tail) {
		t.Errorf("the returned error holds the password: %v", err)
	}
	if strings.Contains(buf.String(), tail) {
		t.Errorf("the panic log holds the password:\n%s", buf.String())
	}
}

// redactor.text replaced the secrets one after another in the order
// found, the user name before the password: a password that starts with
// the user name (or any secret holding a shorter one) had its first part
// replaced and the rest of it left in clear. The longest go first.
func TestPanicPasswordContainingUsernameInLog(t *testing.T) {
	logger, buf := leakLogger()
	up := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		panic(fmt.Sprintf("unexpected request %v", req.URL))
	})
	tr := New(WithTransport(up), WithLogger(logger))
	defer tr.Close()
	req, _ := http.NewRequest("GET", "https://alice:alice"+leakSecret+"@api.example/v1", nil)
	_, err := tr.RoundTrip(req)
	if err != nil && strings.Contains(err.Error(), leakSecret) {
		t.Errorf("the returned error holds the password's rest: %v", err)
	}
	if strings.Contains(buf.String(), leakSecret) {
		t.Errorf("the panic log holds the password's rest:\n%s", buf.String())
	}
}

// The same in the redactor itself, for query values: one secret value
// that holds another (a signature and a token that prefixes it).
func TestTextOverlappingQuerySecrets(t *testing.T) {
	r := redactor{params: DefaultRedactedQueryParams}
	u, _ := urlParse("https://api.example/v1?key=abcd&sig=abcd" + leakSecret)
	got := r.text(u, "GET "+u.String()+" giving up")
	if strings.Contains(got, leakSecret) {
		t.Errorf("text left the rest of a secret: %q", got)
	}
}

func urlParse(s string) (*url.URL, error) { return url.Parse(s) }
