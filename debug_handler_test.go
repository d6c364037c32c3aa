package httpcache

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// htmlCells parses an HTML page leniently and returns the text of the
// cells of the table with id, row by row.
func htmlCells(t *testing.T, page, id string) [][]string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	var rows [][]string
	inTable, inCell := false, false
	var cell strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return rows
		}
		if err != nil {
			t.Fatalf("the page does not parse: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			switch tok.Name.Local {
			case "table":
				for _, a := range tok.Attr {
					if a.Name.Local == "id" && a.Value == id {
						inTable = true
					}
				}
			case "tr":
				if inTable {
					rows = append(rows, nil)
				}
			case "td":
				inCell = inTable
				cell.Reset()
			}
		case xml.EndElement:
			switch tok.Name.Local {
			case "table":
				inTable = false
			case "td":
				if inCell {
					rows[len(rows)-1] = append(rows[len(rows)-1], strings.TrimSpace(cell.String()))
				}
				inCell = false
			}
		case xml.CharData:
			if inCell {
				cell.Write(tok)
			}
		}
	}
}

func TestDebugHandler(t *testing.T) {
	const secret = "s3cr3t-value"
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "body "+secret)
	}, WithSynchronousWrites(true))
	h.get("/v1/a?token=" + secret)
	h.get("/v1/a?token=" + secret)
	h.get("/v1/b", "Authorization", "Bearer "+secret)
	h.get("/v2/<script>")

	serve := func(handler http.Handler, method, target string, form url.Values, header ...string) *httptest.ResponseRecorder {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req := httptest.NewRequest(method, target, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		return w
	}
	readOnly := h.transport.DebugHandler(DebugOptions{})

	page := serve(readOnly, "GET", "/", nil)
	html := page.Body.String()
	if page.Code != 200 || !strings.HasPrefix(page.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("status %d, type %q", page.Code, page.Header().Get("Content-Type"))
	}
	if strings.Contains(html, secret) || strings.Contains(html, "<script>") {
		t.Fatal("the page shows a secret, a body or unescaped markup")
	}
	entries := htmlCells(t, html, "entries")
	if len(entries) != 4 { // the heading row and three entries
		t.Fatalf("entries table %q", entries)
	}
	if got := entries[1]; !strings.HasSuffix(got[0], "/v1/a?token=REDACTED") || got[2] != "1" {
		t.Fatalf("first entry %q", got)
	}
	if got := entries[2]; got[1] != "yes" {
		t.Fatalf("the partitioned entry %q", got)
	}
	requests := htmlCells(t, html, "requests")
	if requests[1][0] != "fresh hits" || requests[1][1] != "1" || requests[3][1] != "3" {
		t.Fatalf("requests table %q", requests)
	}
	if strings.Contains(html, "purge-all") {
		t.Fatal("purge buttons shown without AllowPurge")
	}

	filtered := htmlCells(t, serve(readOnly, "GET", "/?prefix="+url.QueryEscape(h.origin.URL+"/v2/"), nil).Body.String(), "entries")
	if len(filtered) != 2 {
		t.Fatalf("filtered entries %q", filtered)
	}

	var doc debugPage
	if err := json.Unmarshal(serve(readOnly, "GET", "/?format=json", nil).Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Stats.Requests.FreshHits != 1 || len(doc.Entries) != 3 || doc.HitRatio != 0.25 {
		t.Fatalf("json %+v", doc)
	}

	if w := serve(readOnly, "POST", "/", url.Values{"all": {"1"}}); w.Code != http.StatusForbidden {
		t.Fatalf("purge without AllowPurge: %d", w.Code)
	}
	purging := h.transport.DebugHandler(DebugOptions{AllowPurge: true})
	if !strings.Contains(serve(purging, "GET", "/", nil).Body.String(), "purge-all") {
		t.Fatal("no purge buttons with AllowPurge")
	}
	if w := serve(purging, "POST", "/", url.Values{"all": {"1"}}, "Origin", "https://evil.example"); w.Code != http.StatusForbidden {
		t.Fatalf("cross-site purge: %d", w.Code)
	}
	if w := serve(purging, "POST", "/", url.Values{"prefix": {h.origin.URL + "/v1/"}}); w.Code != 200 || !strings.Contains(w.Body.String(), "purged 2 keys") {
		t.Fatalf("purge by prefix: %d %s", w.Code, w.Body.String())
	}
	if h.get("/v1/a?token=" + secret).cache.Hit {
		t.Fatal("a purged entry is still served")
	}
	if w := serve(purging, "POST", "/", url.Values{"all": {"1"}}, "Origin", "http://example.com"); w.Code != 200 {
		t.Fatalf("same-site clear: %d %s", w.Code, w.Body.String())
	}
	if left, _ := h.transport.Entries(t.Context(), "", 0); len(left) != 0 {
		t.Fatalf("after clear: %+v", left)
	}
	if w := serve(purging, "DELETE", "/", nil); w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE: %d", w.Code)
	}
}

// The page shows each entry's tags and, with AllowPurge, purges by tag.
func TestDebugHandlerPurgesByTag(t *testing.T) {
	h := taggedHarness(t)
	h.get("/a?ct=product-1,list")
	h.get("/b?ct=product-2")
	handler := h.transport.DebugHandler(DebugOptions{AllowPurge: true})
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	entries := htmlCells(t, w.Body.String(), "entries")
	if len(entries) != 3 || entries[1][6] != "product-1 list" || entries[2][6] != "product-2" {
		t.Fatalf("entries %q", entries)
	}
	req := httptest.NewRequest("POST", "/", strings.NewReader(url.Values{"tag": {"product-1"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w = httptest.NewRecorder()
	handler.ServeHTTP(w, req)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "purged 1 keys tagged product-1") {
		t.Fatalf("purge by tag: %d %s", w.Code, w.Body.String())
	}
	if h.get("/a?ct=product-1,list").cache.Hit || !h.get("/b?ct=product-2").cache.Hit {
		t.Fatal("the purge removed the wrong entries")
	}
}
