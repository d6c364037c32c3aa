package httpcache

import (
	"strings"
	"testing"
)

// TestIndexControlByte compares the word-at-a-time search with the byte
// table at every position of strings of several lengths, for every byte.
func TestIndexControlByte(t *testing.T) {
	for c := 0; c < 256; c++ {
		for n := 1; n <= 20; n++ {
			for at := 0; at < n; at++ {
				b := []byte(strings.Repeat("a", n))
				b[at] = byte(c)
				s := string(b)
				index := naiveIndexControlByte(s)
				if got := indexControlByte(s); got != index {
					t.Fatalf("byte %#x at %d of %d: index %d, want %d", c, at, n, got, index)
				}
				if got, want := unsendableValues([]string{"ok", s}), index >= 0 && c != '\t'; got != want {
					t.Fatalf("byte %#x at %d of %d: unsendable %v, want %v", c, at, n, got, want)
				}
			}
		}
	}
	if !unsendableValues([]string{"a\tb\tc\td\te\tf\tg\th\x00"}) {
		t.Error("a NUL after eight tabs was missed")
	}
}

func naiveIndexControlByte(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return i
		}
	}
	return -1
}

// FuzzIndexControlByte: the word-at-a-time search agrees with the byte
// table.
func FuzzIndexControlByte(f *testing.F) {
	f.Add("Bearer eyJhbGciOiJIUzI1NiJ9\x7f")
	f.Add("\xff\xfe\x80\x81\x20\x21\x1f")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := indexControlByte(s), naiveIndexControlByte(s); got != want {
			t.Fatalf("%q: index %d, want %d", s, got, want)
		}
	})
}
