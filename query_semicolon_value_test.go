package httpcache

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// A secret value that holds a ';' (an API that reads ';' literally, as Go's
// own net/http server does since Go 1.17: url.ParseQuery does not split on
// it): splitting every query at ';' (found by a review) had the storage
// key fingerprint only the part before the ';' and keep the rest of the
// token in clear, and the log redact only that first part. A secret's
// value runs to the next '&', ';'s and all.
const semiSemiTail = "semiS3CRETleak"

func TestSemicolonInSecretValueOnDisk(t *testing.T) {
	leaks := leakDiskScan(t, semiSemiTail, http.Header{"Cache-Control": {"max-age=60"}}, func() *http.Request {
		req, _ := http.NewRequest("GET", "https://api.example/v1?access_token=abcd;"+semiSemiTail, nil)
		return req
	})
	if len(leaks) > 0 {
		t.Errorf("the rest of an access_token after a ';' is at rest in clear in %v", leaks)
	}
}

func TestSemicolonInSecretValueInLog(t *testing.T) {
	logger, buf := leakLogger()
	tr := New(WithTransport(roundTripFunc(leakOK)), WithLogger(logger))
	defer tr.Close()
	req, _ := http.NewRequest("GET", "https://api.example/v1?access_token=abcd;"+semiSemiTail, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(buf.String(), semiSemiTail) {
		t.Errorf("the rest of an access_token after a ';' reaches the log:\n%s", buf.String())
	}
}
