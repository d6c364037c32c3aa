package httpcache

import (
	"net/http"
	"time"
)

// HTTP dates (RFC 9110 §5.6.7): exactly its three formats, and nothing
// else. A lenient parser would take "Sun, 06 Nov 1994  8:49:37 GMT" (two
// spaces, a one-digit hour) for a date, and a response whose Expires is
// invalid, which means already expired (RFC 9111 §5.3), for a fresh one.

// parseHTTPDate parses an HTTP-date, returning the zero time for anything
// that is not one: IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", the only
// form senders may generate), or the obsolete rfc850-date ("Sunday,
// 06-Nov-94 08:49:37 GMT") and asctime-date ("Sun Nov  6 08:49:37 1994")
// that recipients must accept. The day name must be the date's.
func parseHTTPDate(s string) time.Time {
	var t time.Time
	var ok bool
	switch {
	case len(s) == 29:
		t, ok = parseIMFFixdate(s)
	case len(s) == 24:
		t, ok = parseASCTime(s)
	default:
		t, ok = parseRFC850(s)
	}
	if !ok {
		return time.Time{}
	}
	return t
}

var monthNames = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

var longDayNames = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

// parseIMFFixdate parses "Sun, 06 Nov 1994 08:49:37 GMT".
func parseIMFFixdate(s string) (time.Time, bool) {
	if len(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[25:] != " GMT" {
		return time.Time{}, false
	}
	day, ok1 := digits(s[5:7])
	year, ok2 := digits(s[12:16])
	return dateOf(year, s[8:11], day, s[17:25], s[:3], ok1 && ok2)
}

// parseRFC850 parses "Sunday, 06-Nov-94 08:49:37 GMT". A two-digit year
// more than 50 years in the future is the most recent past year with the
// same last two digits (RFC 9110 §5.6.7).
func parseRFC850(s string) (time.Time, bool) {
	comma := 0
	for comma < len(s) && s[comma] != ',' {
		comma++
	}
	rest := s[min(comma+1, len(s)):]
	if comma == len(s) || len(rest) != 23 || rest[0] != ' ' || rest[3] != '-' || rest[7] != '-' || rest[10] != ' ' || rest[19:] != " GMT" {
		return time.Time{}, false
	}
	dayName := s[:comma]
	known := false
	for _, name := range longDayNames {
		known = known || name == dayName
	}
	day, ok1 := digits(rest[1:3])
	yy, ok2 := digits(rest[8:10])
	if !known || !ok1 || !ok2 {
		return time.Time{}, false
	}
	now := time.Now().UTC().Year()
	year := now - now%100 + yy
	if year > now+50 {
		year -= 100
	}
	return dateOf(year, rest[4:7], day, rest[11:19], dayName[:3], true)
}

// parseASCTime parses "Sun Nov  6 08:49:37 1994": the day of the month is
// two digits, or a space and one digit.
func parseASCTime(s string) (time.Time, bool) {
	if len(s) != 24 || s[3] != ' ' || s[7] != ' ' || s[10] != ' ' || s[19] != ' ' {
		return time.Time{}, false
	}
	dayField := s[8:10]
	if dayField[0] == ' ' {
		dayField = dayField[1:]
	}
	day, ok1 := digits(dayField)
	year, ok2 := digits(s[20:24])
	return dateOf(year, s[4:7], day, s[11:19], s[:3], ok1 && ok2)
}

// dateOf checks and builds a date from its parts: clock is "HH:MM:SS",
// dayName the day's three-letter name.
func dateOf(year int, month string, day int, clock, dayName string, ok bool) (time.Time, bool) {
	if !ok || len(clock) != 8 || clock[2] != ':' || clock[5] != ':' {
		return time.Time{}, false
	}
	hour, ok1 := digits(clock[0:2])
	minute, ok2 := digits(clock[3:5])
	second, ok3 := digits(clock[6:8])
	monthNumber := 0
	for i, name := range monthNames {
		if month == name {
			monthNumber = i + 1
		}
	}
	if !(ok1 && ok2 && ok3) || monthNumber == 0 || day < 1 || hour > 23 || minute > 59 || second > 60 {
		return time.Time{}, false
	}
	if second == 60 {
		second = 59 // a leap second (RFC 9110 §5.6.7 allows 60)
	}
	t := time.Date(year, time.Month(monthNumber), day, hour, minute, second, 0, time.UTC)
	// time.Date normalises 31 Feb into March; such a date is not valid, and
	// the day name must be the date's.
	if t.Day() != day || t.Weekday().String()[:3] != dayName {
		return time.Time{}, false
	}
	return t, true
}

func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// addDateIfMissing gives a response received at received a Date field
// when it has none (RFC 9110 §6.6.1: a recipient with a clock must, for a
// response it caches or forwards). Its age is then counted from when it
// arrived, and a 304 without Date freshens what it validates from then,
// not from the stored response's older Date.
func addDateIfMissing(h http.Header, received time.Time) {
	if len(h["Date"]) == 0 {
		h["Date"] = []string{received.UTC().Format(http.TimeFormat)}
	}
}
