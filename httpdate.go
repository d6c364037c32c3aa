package httpcache

import (
	"net/http"
	"time"
)

// HTTP dates (RFC 9110 §5.6.7).

// parseHTTPDate parses an HTTP-date (RFC 9110 §5.6.7), returning the zero
// time for an invalid one. IMF-fixdate, the only form senders may
// generate, is parsed directly; the obsolete forms go to http.ParseTime.
func parseHTTPDate(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	if t, ok := parseIMFFixdate(s); ok {
		return t
	}
	t, err := http.ParseTime(s)
	if err != nil {
		return time.Time{}
	}
	return t
}

var monthNames = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// parseIMFFixdate parses "Sun, 06 Nov 1994 08:49:37 GMT". It reports false
// for anything it does not parse exactly as http.ParseTime would, leaving
// that to http.ParseTime.
func parseIMFFixdate(s string) (time.Time, bool) {
	if len(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
		s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25:] != " GMT" {
		return time.Time{}, false
	}
	day, ok1 := digits(s[5:7])
	year, ok2 := digits(s[12:16])
	hour, ok3 := digits(s[17:19])
	minute, ok4 := digits(s[20:22])
	second, ok5 := digits(s[23:25])
	month := 0
	for i, name := range monthNames {
		if s[8:11] == name {
			month = i + 1
		}
	}
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || month == 0 || day < 1 || hour > 23 || minute > 59 || second > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, 0, time.UTC)
	// time.Date normalises 31 Feb into March; such a date is not valid, and
	// the weekday must be the date's.
	if t.Day() != day || t.Weekday().String()[:3] != s[:3] {
		return time.Time{}, false
	}
	return t, true
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}
