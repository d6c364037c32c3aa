package gregjones

import "strings"

// What the Storage writes goes through backendGet, backendSet and
// backendDelete, by its name in clear: keyPrefix and a storage key, or an
// index's prefix and its URL or tag. In clear, that is the backend key,
// and the value is written as it is. With WithKeyring, the backend key is
// sealedPrefix and a keyed hash of the name (one under each key of the
// ring: the current key's is written, the others read and deleted), and
// the value is sealed for the name: an entry for its storage key, so that
// it opens only in its own partition.

// sealedPrefix marks the values of an encrypted Storage. It differs from
// the other prefixes within their lengths.
const sealedPrefix = "httpcache.v1-sealed:"

// backendNames returns the backend keys of name, the one written first.
func (s *Storage) backendNames(name string) []string {
	if s.keys == nil {
		return []string{name}
	}
	names := s.keys.HashNames(name, 32)
	for i, h := range names {
		names[i] = sealedPrefix + h
	}
	return names
}

// sealedFor is what a value named name is sealed for: its storage key for
// an entry; the name, after a NUL (so that no storage key is it), for an
// index.
func sealedFor(name string) string {
	if key, ok := strings.CutPrefix(name, keyPrefix); ok {
		return key
	}
	return "\x00" + name
}

func (s *Storage) backendGet(name string) ([]byte, bool) {
	value, ok, _ := s.backendRead(name)
	return value, ok
}

// backendRead is backendGet that also reports a value found under a
// previous key of the ring, for the caller to write it again under the
// current one.
func (s *Storage) backendRead(name string) (value []byte, ok, previous bool) {
	for i, backendKey := range s.backendNames(name) {
		value, ok := s.cache.Get(backendKey)
		if !ok {
			continue
		}
		if s.keys == nil {
			return value, true, false
		}
		plain, err := s.keys.Open(sealedFor(name), value)
		if err != nil {
			s.cache.Delete(backendKey) // tampered, or not this key's: a miss
			continue
		}
		return plain, true, i > 0
	}
	return nil, false, false
}

func (s *Storage) backendSet(name string, value []byte) {
	names := s.backendNames(name)
	if s.keys != nil {
		sealed, err := s.keys.Seal(sealedFor(name), value)
		if err != nil {
			s.backendDelete(name)
			return
		}
		value = sealed
	}
	s.cache.Set(names[0], value)
	for _, previous := range names[1:] {
		s.cache.Delete(previous)
	}
}

func (s *Storage) backendDelete(name string) {
	for _, backendKey := range s.backendNames(name) {
		s.cache.Delete(backendKey)
	}
}
