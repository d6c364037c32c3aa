package httpcache

import "testing"

// connectionListsNeeded must agree with listedIn (which storedHeader's
// removal uses) on every spelling a hostile origin may send.
func TestConnectionVariantsAgree(t *testing.T) {
	p := &policy{shared: true, targeted: canonicalNames("CDN-Cache-Control")}
	lines := [][]string{
		{"vary"}, {"VARY"}, {" \tVary\t "}, {"close, ,vary"}, {",,Vary,,"}, {"x", "cache-control"},
		{"content-ENCODING"}, {"cdn-cache-control"}, {"CDN-CACHE-CONTROL"}, {"keep-alive,  expires "}, {"AGE"},
		{"date"}, {"Content-range"}, {"Vary;q=1"}, {"\"Vary\""}, {"Vary\x00"}, {"Vary\v"}, {"vary x"},
	}
	for _, conn := range lines {
		removed := false
		for _, name := range servingFields {
			removed = removed || listedIn(conn, name)
		}
		removed = removed || listedIn(conn, "Cdn-Cache-Control")
		if got := p.connectionListsNeeded(conn); got != removed {
			t.Errorf("Connection %q: storedHeader removes a needed field = %v, connectionListsNeeded = %v", conn, removed, got)
		}
	}
}
