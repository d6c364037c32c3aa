package httpcache

import (
	"encoding/base64"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Structured Fields (RFC 8941) as the cache reads them: Cache-Status is a
// List (RFC 9211 §2) of cache names with parameters; targeted cache-control
// fields are Dictionaries (RFC 9213 §2.1). The parser follows RFC 8941 §4.2:
// a field that does not parse is invalid whole.

// sfMember is one member of a List or a Dictionary: its key (in a
// Dictionary), its bare item (an inner list is kept as kind 'l', without
// its items) and its parameters.
type sfMember struct {
	key    string
	item   sfItem
	params []sfParam
}

type sfParam struct {
	key   string
	value sfItem
}

// sfItem is a bare item: its kind and its value as text (a string
// unescaped, a boolean "?1" or "?0", a number as written).
type sfItem struct {
	kind  byte // 't' token, 's' string, 'i' integer, 'd' decimal, 'b' boolean, 'y' byte sequence, 'D' date, 'u' display string, 'l' inner list
	value string
}

// parseSFList parses field lines as one structured-field List (RFC 8941
// §4.2: lines are joined with commas). It reports false for an invalid
// field.
func parseSFList(lines []string) ([]sfMember, bool) {
	p := sfParser{s: strings.Join(lines, ",")}
	var members []sfMember
	ok := p.members(func() bool {
		m, ok := p.member()
		members = append(members, m)
		return ok
	})
	return members, ok
}

// parseSFDictionary parses field lines as one structured-field Dictionary
// (RFC 8941 §4.2.2): a key given twice keeps its last value, in the place
// of its first. It reports false for an invalid field.
func parseSFDictionary(lines []string) ([]sfMember, bool) {
	p := sfParser{s: strings.Join(lines, ",")}
	var members []sfMember
	ok := p.members(func() bool {
		key, ok := p.key()
		if !ok {
			return false
		}
		m := sfMember{key: key, item: sfItem{kind: 'b', value: "?1"}}
		if p.i < len(p.s) && p.s[p.i] == '=' {
			p.i++
			value, ok := p.member()
			if !ok {
				return false
			}
			m.item, m.params = value.item, value.params
		} else if m.params, ok = p.parameters(); !ok {
			return false
		}
		if j := slices.IndexFunc(members, func(other sfMember) bool { return other.key == key }); j >= 0 {
			members[j] = m
		} else {
			members = append(members, m)
		}
		return true
	})
	return members, ok
}

type sfParser struct {
	s string
	i int
}

// members parses the comma-separated members of a List or a Dictionary
// (§4.2.1, §4.2.2), each with member, and reports whether all parsed.
func (p *sfParser) members(member func() bool) bool {
	p.skip(' ')
	for p.i < len(p.s) {
		if !member() {
			return false
		}
		p.skipOWS()
		if p.i == len(p.s) {
			return true
		}
		if p.s[p.i] != ',' {
			return false
		}
		p.i++
		p.skipOWS()
		if p.i == len(p.s) {
			return false // a trailing comma
		}
	}
	return true
}

func (p *sfParser) skip(c byte) {
	for p.i < len(p.s) && p.s[p.i] == c {
		p.i++
	}
}

func (p *sfParser) skipOWS() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// member parses an Item or an Inner List, with parameters (§4.2.1.1).
func (p *sfParser) member() (sfMember, bool) {
	var m sfMember
	if p.i < len(p.s) && p.s[p.i] == '(' {
		if !p.innerList() {
			return m, false
		}
		m.item = sfItem{kind: 'l'}
	} else {
		item, ok := p.bareItem()
		if !ok {
			return m, false
		}
		m.item = item
	}
	params, ok := p.parameters()
	m.params = params
	return m, ok
}

// innerList parses and discards an Inner List (§4.2.1.2): no Cache-Status
// member is one, but a valid field may hold one.
func (p *sfParser) innerList() bool {
	p.i++ // (
	for p.i < len(p.s) {
		p.skip(' ')
		if p.i < len(p.s) && p.s[p.i] == ')' {
			p.i++
			return true
		}
		if _, ok := p.bareItem(); !ok {
			return false
		}
		if _, ok := p.parameters(); !ok {
			return false
		}
		if p.i < len(p.s) && p.s[p.i] != ' ' && p.s[p.i] != ')' {
			return false
		}
	}
	return false
}

// parameters parses Parameters (§4.2.3.2).
func (p *sfParser) parameters() ([]sfParam, bool) {
	var params []sfParam
	for p.i < len(p.s) && p.s[p.i] == ';' {
		p.i++
		p.skip(' ')
		key, ok := p.key()
		if !ok {
			return nil, false
		}
		value := sfItem{kind: 'b', value: "?1"}
		if p.i < len(p.s) && p.s[p.i] == '=' {
			p.i++
			if value, ok = p.bareItem(); !ok {
				return nil, false
			}
		}
		// A key given twice keeps its last value (§4.2.3.2).
		replaced := false
		for j := range params {
			if params[j].key == key {
				params[j].value, replaced = value, true
			}
		}
		if !replaced {
			params = append(params, sfParam{key, value})
		}
	}
	return params, true
}

// key parses a Key (§4.2.3.3).
func (p *sfParser) key() (string, bool) {
	start := p.i
	if p.i >= len(p.s) || !(isLowerAlpha(p.s[p.i]) || p.s[p.i] == '*') {
		return "", false
	}
	for p.i < len(p.s) && (isLowerAlpha(p.s[p.i]) || isDigit(p.s[p.i]) || strings.IndexByte("_-.*", p.s[p.i]) >= 0) {
		p.i++
	}
	return p.s[start:p.i], true
}

// bareItem parses a Bare Item (§4.2.3.1).
func (p *sfParser) bareItem() (sfItem, bool) {
	if p.i >= len(p.s) {
		return sfItem{}, false
	}
	switch c := p.s[p.i]; {
	case c == '-' || isDigit(c):
		return p.number()
	case c == '"':
		return p.string()
	case c == ':':
		return p.byteSequence()
	case c == '@': // a Date (RFC 9651 §3.3.7)
		p.i++
		if p.i >= len(p.s) || !(p.s[p.i] == '-' || isDigit(p.s[p.i])) {
			return sfItem{}, false
		}
		n, ok := p.number()
		if !ok || n.kind != 'i' {
			return sfItem{}, false
		}
		return sfItem{kind: 'D', value: n.value}, true
	case c == '%': // a Display String (RFC 9651 §3.3.8)
		return p.displayString()
	case c == '?':
		if p.i+1 < len(p.s) && (p.s[p.i+1] == '0' || p.s[p.i+1] == '1') {
			p.i += 2
			return sfItem{kind: 'b', value: p.s[p.i-2 : p.i]}, true
		}
		return sfItem{}, false
	case isAlpha(c) || c == '*':
		start := p.i
		for p.i < len(p.s) && (isTokenChar(p.s[p.i]) || p.s[p.i] == ':' || p.s[p.i] == '/') {
			p.i++
		}
		return sfItem{kind: 't', value: p.s[start:p.i]}, true
	}
	return sfItem{}, false
}

// number parses an Integer or a Decimal (§4.2.4).
func (p *sfParser) number() (sfItem, bool) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	digitsStart, dot := p.i, -1
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '.' && dot < 0 {
			if p.i-digitsStart > 12 {
				return sfItem{}, false
			}
			dot = p.i
		} else if !isDigit(c) {
			break
		}
		p.i++
		if dot < 0 && p.i-digitsStart > 15 || dot >= 0 && p.i-digitsStart > 16 {
			return sfItem{}, false
		}
	}
	digits := p.s[digitsStart:p.i]
	if len(digits) == 0 || !isDigit(digits[0]) {
		return sfItem{}, false
	}
	if dot < 0 {
		return sfItem{kind: 'i', value: p.s[start:p.i]}, true
	}
	if frac := p.i - dot - 1; frac < 1 || frac > 3 {
		return sfItem{}, false
	}
	return sfItem{kind: 'd', value: p.s[start:p.i]}, true
}

// string parses a String (§4.2.5), unescaping it.
func (p *sfParser) string() (sfItem, bool) {
	p.i++ // "
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.i >= len(p.s) || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
				return sfItem{}, false
			}
			b.WriteByte(p.s[p.i])
			p.i++
		case c == '"':
			return sfItem{kind: 's', value: b.String()}, true
		case c < 0x20 || c > 0x7e:
			return sfItem{}, false
		default:
			b.WriteByte(c)
		}
	}
	return sfItem{}, false
}

// displayString parses a Display String (RFC 9651 §4.2.10), keeping it
// encoded: lower-case percent escapes of UTF-8.
func (p *sfParser) displayString() (sfItem, bool) {
	if p.i+1 >= len(p.s) || p.s[p.i+1] != '"' {
		return sfItem{}, false
	}
	p.i += 2
	var decoded []byte
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '%':
			if p.i+2 > len(p.s) || !isLowerHex(p.s[p.i]) || !isLowerHex(p.s[p.i+1]) {
				return sfItem{}, false
			}
			decoded = append(decoded, unhex(p.s[p.i])<<4|unhex(p.s[p.i+1]))
			p.i += 2
		case c == '"':
			if !utf8.Valid(decoded) {
				return sfItem{}, false
			}
			return sfItem{kind: 'u', value: p.s[start : p.i-1]}, true
		case c < 0x20 || c > 0x7e:
			return sfItem{}, false
		default:
			decoded = append(decoded, c)
		}
	}
	return sfItem{}, false
}

func isLowerHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' }

func unhex(c byte) byte {
	if isDigit(c) {
		return c - '0'
	}
	return c - 'a' + 10
}

// byteSequence parses a Byte Sequence (§4.2.7), keeping it encoded.
func (p *sfParser) byteSequence() (sfItem, bool) {
	start := p.i
	p.i++ // :
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		if c == ':' {
			encoded := p.s[start+1 : p.i-1]
			if _, err := base64.StdEncoding.DecodeString(encoded); err != nil {
				return sfItem{}, false
			}
			return sfItem{kind: 'y', value: encoded}, true
		}
		if !(isAlpha(c) || isDigit(c) || c == '+' || c == '/' || c == '=') {
			return sfItem{}, false
		}
	}
	return sfItem{}, false
}

func isTokenChar(c byte) bool  { return c > ' ' && c < 0x7f && !isDelimiter(c) }
func isLowerAlpha(c byte) bool { return 'a' <= c && c <= 'z' }
func isAlpha(c byte) bool      { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool      { return '0' <= c && c <= '9' }

// statusOfMember reads the Cache-Status parameters of one member (RFC
// 9211 §2).
func statusOfMember(m sfMember) CacheStatus {
	var status CacheStatus
	for _, param := range m.params {
		v := param.value
		switch param.key {
		case "hit":
			status.Hit = v.kind == 'b' && v.value == "?1"
		case "fwd":
			if v.kind == 't' {
				status.Forward = v.value
			}
		case "fwd-status":
			if v.kind == 'i' {
				status.ForwardStatus, _ = strconv.Atoi(v.value)
			}
		case "ttl":
			if v.kind == 'i' {
				if seconds, err := strconv.ParseInt(v.value, 10, 64); err == nil {
					// 15 digits at most: no overflow as a Duration of seconds
					// up to 292 years; beyond, saturated.
					status.TTL, status.HasTTL = secondsDuration(seconds), true
				}
			}
		case "stored":
			status.Stored = v.kind == 'b' && v.value == "?1"
		case "collapsed":
			status.Collapsed = v.kind == 'b' && v.value == "?1"
		case "detail":
			if v.kind == 't' || v.kind == 's' {
				status.Detail = v.value
			}
		}
	}
	return status
}

// secondsDuration is seconds as a Duration, saturated at its bounds.
func secondsDuration(seconds int64) time.Duration {
	const limit = int64(math.MaxInt64 / int64(time.Second))
	switch {
	case seconds > limit:
		return math.MaxInt64
	case seconds < -limit:
		return math.MinInt64
	}
	return time.Duration(seconds) * time.Second
}
