package httpcache

import (
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DebugOptions configure DebugHandler.
type DebugOptions struct {
	// AllowPurge shows purge buttons and accepts purges (POST with
	// "prefix", "tag", or "all"). Off by default: anyone who can reach the page
	// could empty the cache.
	AllowPurge bool
	// MaxEntries bounds the entries shown; zero means 500.
	MaxEntries int
}

// debugPage is what the debug page shows, as HTML or JSON.
type debugPage struct {
	Name         string      `json:"name"`
	Stats        Stats       `json:"stats"`
	HitRatio     float64     `json:"hit_ratio"`
	Prefix       string      `json:"prefix"`
	Entries      []EntryInfo `json:"entries"`
	EntriesError string      `json:"entries_error,omitempty"`
	AllowPurge   bool        `json:"allow_purge"`
	Message      string      `json:"message,omitempty"`
}

// DebugHandler returns an http.Handler that shows the Transport's counters
// (Stats), its hit ratio and its stored entries (Entries, filtered by the
// "prefix" query parameter), as HTML, or as JSON for "?format=json" or
// "Accept: application/json". Mount it where only operators reach it, as
// net/http/pprof:
//
//	mux.Handle("/debug/httpcache/", http.StripPrefix("/debug/httpcache", cache.DebugHandler(httpcache.DebugOptions{})))
//
// It never shows headers, bodies or credentials: URLs have redacted query
// parameters replaced, and partitions are only flagged. Purging is off
// unless DebugOptions.AllowPurge, and then refused for a cross-site POST
// (an Origin other than the page's host).
func (t *Transport) DebugHandler(opts DebugOptions) http.Handler {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 500
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page := debugPage{Name: t.cfg.name, AllowPurge: opts.AllowPurge, Prefix: r.FormValue("prefix")}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodPost:
			message, status := t.debugPurge(r, opts)
			if status != http.StatusOK {
				http.Error(w, message, status)
				return
			}
			page.Message = message
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		page.Stats = t.Stats()
		page.HitRatio = hitRatio(page.Stats.Requests)
		entries, err := t.Entries(r.Context(), page.Prefix, opts.MaxEntries)
		page.Entries = entries
		if err != nil {
			page.EntriesError = err.Error()
		}
		w.Header().Set("Cache-Control", "no-store")
		if r.FormValue("format") == "json" || strings.Contains(r.Header.Get("Accept"), "application/json") {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(page)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		debugTemplate.Execute(w, page)
	})
}

// debugPurge runs the purge a POST asks for.
func (t *Transport) debugPurge(r *http.Request, opts DebugOptions) (message string, status int) {
	if !opts.AllowPurge {
		return "purging is not enabled (DebugOptions.AllowPurge)", http.StatusForbidden
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		if u, err := url.Parse(origin); err != nil || !equalFoldASCII(u.Host, r.Host) {
			return "cross-site purge refused", http.StatusForbidden
		}
	}
	if r.FormValue("all") != "" {
		if err := t.Clear(r.Context()); err != nil {
			return "clear: " + err.Error(), http.StatusInternalServerError
		}
		return "cleared", http.StatusOK
	}
	if tag := r.FormValue("tag"); tag != "" {
		n, err := t.InvalidateTag(r.Context(), tag)
		if err != nil {
			return "purge: " + err.Error(), http.StatusInternalServerError
		}
		return "purged " + strconv.Itoa(n) + " keys tagged " + tag, http.StatusOK
	}
	prefix := r.FormValue("prefix")
	if prefix == "" {
		return `a purge needs a "prefix", a "tag" (or "all")`, http.StatusBadRequest
	}
	n, err := t.InvalidatePrefix(r.Context(), prefix)
	if err != nil {
		return "purge: " + err.Error(), http.StatusInternalServerError
	}
	return "purged " + strconv.Itoa(n) + " keys under " + prefix, http.StatusOK
}

// hitRatio is the share of requests answered from storage without the
// origin, of those the cache handled.
func hitRatio(r RequestCounts) float64 {
	hits := r.FreshHits + r.StaleHits + r.StaleOnError
	all := hits + r.Misses + r.VaryMisses + r.Revalidated304 + r.Revalidated + r.Backoff + r.OnlyIfCached504
	if all == 0 {
		return 0
	}
	return float64(hits) / float64(all)
}

var debugTemplate = template.Must(template.New("debug").Funcs(template.FuncMap{
	"percent": func(f float64) string { return strconv.Itoa(int(f*100+0.5)) + "%" },
	"when":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"join":    func(tags []string) string { return strings.Join(tags, " ") },
}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"/><title>{{.Name}} cache</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}th{background:#eee}.n{text-align:right}</style>
</head><body>
<h1>{{.Name}}</h1>
{{with .Message}}<p id="message">{{.}}</p>{{end}}
<h2>Requests</h2>
<p>Hit ratio: <strong id="hit-ratio">{{percent .HitRatio}}</strong></p>
<table id="requests"><tr><th>outcome</th><th>count</th></tr>
{{with .Stats.Requests}}<tr><td>fresh hits</td><td class="n">{{.FreshHits}}</td></tr>
<tr><td>stale hits</td><td class="n">{{.StaleHits}}</td></tr>
<tr><td>misses</td><td class="n">{{.Misses}}</td></tr>
<tr><td>vary misses</td><td class="n">{{.VaryMisses}}</td></tr>
<tr><td>revalidated (304)</td><td class="n">{{.Revalidated304}}</td></tr>
<tr><td>revalidated (replaced)</td><td class="n">{{.Revalidated}}</td></tr>
<tr><td>stale on error</td><td class="n">{{.StaleOnError}}</td></tr>
<tr><td>back-off answers</td><td class="n">{{.Backoff}}</td></tr>
<tr><td>bypassed</td><td class="n">{{.Bypassed}}</td></tr>
<tr><td>other methods</td><td class="n">{{.OtherMethods}}</td></tr>
<tr><td>only-if-cached 504</td><td class="n">{{.OnlyIfCached504}}</td></tr>{{end}}
</table>
<h2>Storage</h2>
<table id="storage"><tr><th>counter</th><th>value</th></tr>
<tr><td>stored</td><td class="n">{{.Stats.Stored}}</td></tr>
{{range $reason, $n := .Stats.NotStored}}<tr><td>not stored: {{$reason}}</td><td class="n">{{$n}}</td></tr>
{{end}}<tr><td>collapsed</td><td class="n">{{.Stats.Collapsed}}</td></tr>
<tr><td>background started / failed / skipped</td><td class="n">{{.Stats.BackgroundStarted}} / {{.Stats.BackgroundFailed}} / {{.Stats.BackgroundSkipped}}</td></tr>
{{range $op, $n := .Stats.StorageErrors}}<tr><td>storage errors: {{$op}}</td><td class="n">{{$n}}</td></tr>
{{end}}<tr><td>queued writes (bytes)</td><td class="n">{{.Stats.QueuedWrites}} ({{.Stats.QueuedBytes}})</td></tr>
<tr><td>bytes served</td><td class="n">{{.Stats.BytesServed}}</td></tr>
</table>
<h2>Entries</h2>
<form method="get"><input name="prefix" value="{{.Prefix}}" size="60" placeholder="https://api.example.com/v1/"/> <button>Filter</button></form>
{{if .EntriesError}}<p id="entries-error">{{.EntriesError}}</p>{{else}}
<table id="entries"><tr><th>URL</th><th>partitioned</th><th>variants</th><th>bytes</th><th>stored at</th><th>fresh until</th><th>tags</th></tr>
{{range .Entries}}<tr><td>{{.URL}}</td><td>{{if .Partitioned}}yes{{end}}</td><td class="n">{{.Variants}}</td><td class="n">{{.Size}}</td><td>{{when .StoredAt}}</td><td>{{when .FreshUntil}}</td><td>{{join .Tags}}</td></tr>
{{end}}</table>{{end}}
{{if .AllowPurge}}<h2>Purge</h2>
<form method="post" id="purge-prefix"><input name="prefix" value="{{.Prefix}}" size="60"/> <button>Purge URLs under this prefix</button></form>
<form method="post" id="purge-tag"><input name="tag" size="30" placeholder="product-42"/> <button>Purge responses with this tag</button></form>
<form method="post" id="purge-all"><input type="hidden" name="all" value="1"/><button>Clear everything</button></form>{{end}}
</body></html>
`))
