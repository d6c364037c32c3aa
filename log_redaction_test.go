package httpcache

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const leakSecret = "S3CRETleaktok"

type leakBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *leakBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}
func (b *leakBuf) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

func leakLogger() (*slog.Logger, *leakBuf) {
	buf := &leakBuf{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func leakOK(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{"Cache-Control": {"max-age=60"}, "Date": {time.Now().UTC().Format(http.TimeFormat)}},
		Body: io.NopCloser(strings.NewReader("ok")), ContentLength: -1, Request: req, ProtoMajor: 1, ProtoMinor: 1}, nil
}

// Logs never show a credential the request's URL carries, in any form
// the URL or an upstream's message holds it. Each of these leaked before
// (found by a probe).

// TestFragmentTokenInDebugLog: an OAuth implicit-flow callback URL carries
// its access token in the fragment. net/http never sends the fragment, but
// the request's URL holds it, and log records wrote it.
func TestFragmentTokenInDebugLog(t *testing.T) {
	logger, buf := leakLogger()
	tr := New(WithTransport(roundTripFunc(leakOK)), WithLogger(logger))
	defer tr.Close()
	client := &http.Client{Transport: tr}
	resp, err := client.Get("https://app.example/callback#access_token=" + leakSecret + "&token_type=bearer")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(buf.String(), leakSecret) {
		t.Errorf("the access token in the URL's fragment reaches the log in clear:\n%s", buf.String())
	}
}

// TestUpstreamErrorURLInStaleLog: an upstream whose error names the
// request's URL other than as the outermost *url.Error: a url.Error nested
// in another (a RoundTripper built on an http.Client), or a retrying
// transport's own message, as go-retryablehttp writes "GET <url> giving up
// after 3 attempt(s)". The redactor rewrote only the outer url.Error's URL
// field; it now replaces the URL's secrets wherever the message has them.
func TestUpstreamErrorURLInStaleLog(t *testing.T) {
	cases := map[string]func(req *http.Request) error{
		"nested url.Error": func(req *http.Request) error {
			inner := &url.Error{Op: "Get", URL: req.URL.String(), Err: errors.New("connection refused")}
			return &url.Error{Op: "Get", URL: req.URL.String(), Err: inner}
		},
		"retrying transport's message": func(req *http.Request) error {
			return fmt.Errorf("%s %s giving up after 3 attempt(s): %w", req.Method, req.URL, errors.New("connection refused"))
		},
	}
	for name, makeErr := range cases {
		t.Run(name, func(t *testing.T) {
			logger, buf := leakLogger()
			var mu sync.Mutex
			fail := false
			up := roundTripFunc(func(req *http.Request) (*http.Response, error) {
				mu.Lock()
				f := fail
				mu.Unlock()
				if f {
					return nil, makeErr(req)
				}
				return &http.Response{StatusCode: 200, Header: http.Header{"Cache-Control": {"max-age=0, stale-if-error=600"}, "Date": {time.Now().UTC().Format(http.TimeFormat)}},
					Body: io.NopCloser(strings.NewReader("ok")), ContentLength: -1, Request: req}, nil
			})
			tr := New(WithTransport(up), WithLogger(logger))
			defer tr.Close()
			u := "https://api.example/v1/items?access_token=" + leakSecret
			for i := 0; i < 2; i++ {
				req, _ := http.NewRequest("GET", u, nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				fail = true
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
			if !strings.Contains(buf.String(), "serving a stale response") {
				t.Fatalf("no stale-on-error record; the probe proves nothing:\n%s", buf.String())
			}
			if strings.Contains(buf.String(), leakSecret) {
				t.Errorf("a query token reaches the log in clear through the upstream's error:\n%s", buf.String())
			}
		})
	}
}

// TestPanicValueWithURL: a panic of the upstream whose value names the
// request's URL, as a fmt.Sprintf("...%v", req.URL) does, was logged and
// returned as it was.
func TestPanicValueWithURL(t *testing.T) {
	logger, buf := leakLogger()
	up := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		panic(fmt.Sprintf("unexpected request %v", req.URL))
	})
	tr := New(WithTransport(up), WithLogger(logger))
	defer tr.Close()
	req, _ := http.NewRequest("GET", "https://api.example/v1?api_key="+leakSecret, nil)
	_, err := tr.RoundTrip(req)
	if err != nil && strings.Contains(err.Error(), leakSecret) {
		t.Errorf("the returned error holds the token: %v", err)
	}
	if strings.Contains(buf.String(), leakSecret) {
		t.Errorf("the panic log holds the token:\n%s", buf.String())
	}
}

// TestOpaqueUserinfoInLog: user information inside an opaque target.
func TestOpaqueUserinfoInLog(t *testing.T) {
	logger, buf := leakLogger()
	tr := New(WithTransport(roundTripFunc(leakOK)), WithLogger(logger))
	defer tr.Close()
	req, _ := http.NewRequest("GET", "http://api.example/x", nil)
	req.URL.Opaque = "//alice:" + leakSecret + "@api.example/x"
	resp, err := tr.RoundTrip(req)
	if err == nil {
		io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if strings.Contains(buf.String(), leakSecret) {
		t.Errorf("userinfo in an opaque target reaches the log:\n%s", buf.String())
	}
}

// TestSemicolonQueryTokenInLog: a token after a ';' separator, which many
// servers (Rails, older Python) read as a separate parameter.
func TestSemicolonQueryTokenInLog(t *testing.T) {
	logger, buf := leakLogger()
	tr := New(WithTransport(roundTripFunc(leakOK)), WithLogger(logger))
	defer tr.Close()
	req, _ := http.NewRequest("GET", "https://api.example/v1?page=1;access_token="+leakSecret, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(buf.String(), leakSecret) {
		t.Errorf("a ';'-separated token reaches the log:\n%s", buf.String())
	}
}
