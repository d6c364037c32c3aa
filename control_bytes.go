package httpcache

// Control bytes: net/http refuses to send a control byte in a Host, a
// request target or a field value (but HTAB in a value). The hit path
// looks for them in every request's query and credentials, eight bytes at
// a time.

const (
	everyByte      = 0x0101010101010101
	everyHigh      = 0x8080808080808080
	firstPrintable = 0x20
	deleteByte     = 0x7f
)

// indexControlByte returns the index of the first control byte (below
// 0x20, or DEL) in s, or -1.
func indexControlByte(s string) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		del := w ^ (everyByte * deleteByte) // a zero byte where w has DEL
		// A byte below n sets its high bit in (w - n*everyByte) &^ w, and
		// only a word with such a byte has any high bit set there.
		if ((w-everyByte*firstPrintable)&^w|(del-everyByte)&^del)&everyHigh != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if byteClasses[s[i]]&ctlByte != 0 {
			return i
		}
	}
	return -1
}

// hasControlBytes reports bytes net/http refuses to send in a Host or a
// request target. A request with one goes to the network, which refuses
// it, and is never answered from storage: its key could be forged to look
// like another's.
func hasControlBytes(s string) bool { return indexControlByte(s) >= 0 }

// unsendableValues reports a field value net/http refuses to send
// (httpguts.ValidHeaderFieldValue): one with a control byte other than
// HTAB.
func unsendableValues(values []string) bool {
	for _, value := range values {
		for i := indexControlByte(value); i >= 0; {
			if value[i] != '\t' {
				return true
			}
			value = value[i+1:]
			i = indexControlByte(value)
		}
	}
	return false
}
