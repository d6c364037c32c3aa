package redisstore

import (
	"github.com/c650553b/httpcache"
)

// Names of the Redis keys of one storage key. In clear they are those of
// the package doc. With WithKeyring every part that would show a URL, a
// partition, a tag or a Vary value is a keyed hash (Keyring.HashName), a
// name under each key of the ring:
//
//	prefix{H(URL)}e:H(storage key)   the key's variants, fields H(Variant), and
//	                                 field "key": the storage key, sealed for listing
//	prefix{H(URL)}u:H(URL)           the URL's partitions: members H(storage key)
//	prefix{H(tag)}t:                 a tag's keys: members {H(URL)}e:H(storage key)

// keyNames are the names of one storage key's Redis keys under one key of
// the ring (the only ones in clear).
type keyNames struct {
	entry  string // the hash of the key's variants
	index  string // the URL's set of partitions
	base   string // what a partition's member follows in its entry's name
	member string // the key's member in the URL's set
}

// listingField is the field of an encrypted entry hash that holds its
// storage key, sealed; no hashed Variant is this short.
const listingField = "key"

// namesOf returns key's names, the current key's first.
func (s *Store) namesOf(key string) []keyNames {
	url := httpcache.KeyURL(key)
	if s.keys == nil {
		return []keyNames{{entry: s.entryKey(key), index: s.indexKey(url), base: s.partitionBase(url), member: httpcache.KeyPartition(key)}}
	}
	tags := s.keys.HashNames(url, (tagLen-2)/2)
	keyHashes := s.keys.HashNames(key, 16)
	urlHashes := s.keys.HashNames(url, 16)
	names := make([]keyNames, len(tags))
	for i := range names {
		base := s.prefix + "{" + tags[i] + "}" + kindEntry
		names[i] = keyNames{entry: base + keyHashes[i], index: s.prefix + "{" + tags[i] + "}" + kindIndex + urlHashes[i], base: base, member: keyHashes[i]}
	}
	return names
}

// entryName returns the name of the hash of key's variants under the
// current key of the ring: namesOf(key)[0].entry, without the others.
func (s *Store) entryName(key string) string {
	if s.keys == nil {
		return s.entryKey(key)
	}
	url := httpcache.KeyURL(key)
	return s.prefix + "{" + s.keys.HashName(url, (tagLen-2)/2) + "}" + kindEntry + s.keys.HashName(key, 16)
}

// field returns the hash field of one of key's variants: the Variant in
// clear; encrypted, a keyed hash of the storage key and the Variant, so
// that equal Vary values (one user's Cookie) do not link entries of
// different keys.
func (s *Store) field(key, variant string) string {
	if s.keys == nil {
		return variant
	}
	return s.keys.HashName(key+"\x00"+variant, 16)
}

// tagNames returns the names of tag's set, the current key's first.
func (s *Store) tagNames(tag string) []string {
	if s.keys == nil {
		return []string{s.tagKey(tag)}
	}
	hashes := s.keys.HashNames("\x00tag\x00"+tag, (tagLen-2)/2)
	for i, h := range hashes {
		hashes[i] = s.prefix + "{" + h + "}" + kindTag
	}
	return hashes
}

// tagMember is what a tag's set holds for a key: the key in clear; its
// entry's name without the prefix when encrypted.
func (s *Store) tagMember(key string, n keyNames) string {
	if s.keys == nil {
		return key
	}
	return n.entry[len(s.prefix):]
}
