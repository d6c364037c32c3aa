package httpcache

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
)

// wireOf returns what net/http writes for req: request target and Host,
// the host normalised as an origin may (ASCII case, default port).
func wireOf(req *http.Request) (string, bool) {
	dump, err := httputil.DumpRequestOut(req, false)
	if err != nil {
		return "", false
	}
	br := bufio.NewReader(bytes.NewReader(dump))
	line, _ := br.ReadString('\n')
	f := strings.Fields(line)
	if len(f) < 2 {
		return "", false
	}
	host := ""
	for {
		h, err := br.ReadString('\n')
		if err != nil {
			break
		}
		h = strings.TrimRight(h, "\r\n")
		if h == "" {
			break
		}
		if k, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(k, "host") {
			host = strings.TrimSpace(v)
		}
	}
	host = strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 32
		}
		return r
	}, host)
	host = strings.TrimSuffix(host, ":80")
	return req.URL.Scheme + " " + host + " " + f[1], true
}

// TestKeyIsTheWireIdentity builds 60,000 random requests (hosts, req.Host,
// Opaque, Path, RawPath, queries) and checks that two requests the cache
// would key alike are written alike by net/http (httputil.DumpRequestOut):
// a key never names two different wire requests.
func TestKeyIsTheWireIdentity(t *testing.T) {
	const onlySlash = false
	hosts := []string{"a", "a.b", "a:80", "A", "a:8080", "a:", "ab", "[::1]", "[::1]:80", "a%25z", "ä", "Ä", "aÄ", "Aä", "aä", "a.", "a..", "a:80:80", ":80", "a.b:80", "AÄ", "aä.b", "AÄ.B", "Aẞ", "aß", "a/b", "a/", "a?b", "a/b/"}
	pieces := []string{"", "/", "//", "a", "b", "/a", "?", "#", "%2F", "%2f", "%00", ":", "@", ";", "%", " ", "é", "*", ".", "..", "~", "!", "+", "&", "=", "$"}
	rnd := rand.New(rand.NewPCG(1, 2))
	pick := func(n int) string {
		var b strings.Builder
		for i := rnd.IntN(n); i > 0; i-- {
			b.WriteString(pieces[rnd.IntN(len(pieces))])
		}
		return b.String()
	}
	seen := map[string]string{}
	seenReq := map[string]string{}
	collisions := 0
	for i := 0; i < 60000; i++ {
		u := &url.URL{Scheme: "http"}
		host := hosts[rnd.IntN(len(hosts))]
		switch rnd.IntN(4) {
		case 0:
			u.Opaque = pick(4)
		default:
			u.Path = pick(4)
			if rnd.IntN(3) == 0 {
				u.RawPath = pick(4)
			}
		}
		if rnd.IntN(2) == 0 {
			u.RawQuery = pick(3)
		}
		u.ForceQuery = rnd.IntN(4) == 0
		u.Host = host
		req := &http.Request{Method: "GET", URL: u, Header: http.Header{}}
		if rnd.IntN(2) == 0 {
			req.Host = hosts[rnd.IntN(len(hosts))]
		}
		key := string(appendURLKey(nil, u.Scheme, wireHost(req), u, nil, nil))
		if hasControlBytes(key) || !keyable(req) {
			continue
		}
		if rt := u.RequestURI(); !strings.HasPrefix(rt, "/") && !strings.HasPrefix(rt, "http:") && rt != "*" && !strings.HasPrefix(rt, "?") && onlySlash {
			continue
		}
		wire, ok := wireOf(req)
		if !ok {
			continue // net/http refuses: a hit would still be served; see below
		}
		desc := req.Host + " | " + u.Host + " | opaque=" + u.Opaque + " path=" + u.Path + " raw=" + u.RawPath + " q=" + u.RawQuery
		if prev, ok := seen[key]; ok && prev != wire {
			collisions++
			if collisions <= 15 {
				t.Errorf("key %q:\n  %s -> wire %q\n  %s -> wire %q", key, seenReq[key], prev, desc, wire)
			}
		} else if !ok {
			seen[key], seenReq[key] = wire, desc
		}
	}
	t.Logf("%d collisions", collisions)
}
