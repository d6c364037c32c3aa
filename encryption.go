package httpcache

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Encryption at rest: a Keyring encrypts and authenticates what the stores
// that keep bytes (DiskStorage, storage/redisstore, storage/gregjones)
// write, with AES-256-GCM, and names what they write with keyed hashes, so
// that the directory or the Redis instance shows no URL, header or body.
//
// Each entry is sealed under a key derived (HKDF-SHA256) from the secret
// and the entry's partition (KeyPartition: the keyed fingerprint of the
// request's credentials), and authenticated together with the storage key
// it was stored under: an entry found under another key or partition, by
// any bug, fails to open and is a miss, never another user's answer.
//
// Keys rotate without a cold cache: a Keyring holds the current key, which
// seals, and older keys, which still open what they sealed. Each sealed
// value names the key that sealed it by an identifier derived from it.

// KeySize is the size of a Keyring's keys: 32 bytes, for AES-256.
const KeySize = 32

// keyIDSize is the size of the identifier a sealed value names its key
// by.
const keyIDSize = 8

// ErrKeySize is returned, wrapped, by NewKeyring for a key that is not
// KeySize bytes long.
var ErrKeySize = errors.New("httpcache: an encryption key must be 32 bytes (AES-256)")

// errSealed is returned, wrapped in ErrCorruptEntry, for a value that does
// not open: sealed by a key the Keyring does not hold, for another storage
// key or partition, or tampered with.
var errSealed = errors.New("sealed value does not open")

// Keyring holds the keys a store encrypts its entries with: the current
// key, which seals every new entry, and previous keys, which still open
// the entries they sealed, so that a key rotates without emptying the
// cache. Keep the keys outside the store (a secret manager, an
// environment variable): give every process that shares a store the same
// Keyring. A Keyring is safe for concurrent use. Make one with NewKeyring:
// the zero Keyring holds no key, and stores refuse it.
type Keyring struct {
	keys []*ringKey // the current key first

	mu      sync.Mutex
	derived map[derivedKey]cipher.AEAD
}

// ringKey is one key of a Keyring with what is derived from it once.
type ringKey struct {
	id      [keyIDSize]byte
	secret  []byte
	nameKey []byte      // keys the hashes that name what stores write
	listing cipher.AEAD // seals storage keys a store keeps to list them
}

// derivedKey names one partition's key under one of the ring's keys.
type derivedKey struct {
	key       *ringKey
	purpose   string
	partition string
}

// maxDerivedKeys bounds the derived keys a Keyring keeps, so that a store
// with many partitions does not derive a key on every read; past it the
// Keyring starts afresh.
const maxDerivedKeys = 4096

// NewKeyring returns a Keyring that seals with current and opens what
// current or any of previous sealed. Each key must be KeySize random
// bytes; ParseKey reads one from text.
func NewKeyring(current []byte, previous ...[]byte) (*Keyring, error) {
	k := &Keyring{derived: make(map[derivedKey]cipher.AEAD)}
	for i, secret := range append([][]byte{current}, previous...) {
		if len(secret) != KeySize {
			return nil, fmt.Errorf("%w: key %d is %d bytes", ErrKeySize, i, len(secret))
		}
		rk, err := newRingKey(secret)
		if err != nil {
			return nil, err
		}
		for _, other := range k.keys {
			if other.id == rk.id {
				return nil, fmt.Errorf("httpcache: NewKeyring: key %d is given twice", i)
			}
		}
		k.keys = append(k.keys, rk)
	}
	return k, nil
}

func newRingKey(secret []byte) (*ringKey, error) {
	rk := &ringKey{secret: append([]byte(nil), secret...)}
	id := hmac.New(sha256.New, rk.secret)
	id.Write([]byte("httpcache key id"))
	copy(rk.id[:], id.Sum(nil))
	var err error
	if rk.nameKey, err = hkdf.Key(sha256.New, rk.secret, nil, "httpcache names", KeySize); err != nil {
		return nil, err
	}
	listingKey, err := hkdf.Key(sha256.New, rk.secret, nil, "httpcache listing", KeySize)
	if err != nil {
		return nil, err
	}
	rk.listing, err = newAEAD(listingKey)
	return rk, err
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// ParseKey reads a key written as 64 hexadecimal digits or as base64
// (standard or URL alphabet, padded or not) of KeySize bytes, such as one
// kept in an environment variable:
//
//	key, err := httpcache.ParseKey(os.Getenv("CACHE_KEY")) // openssl rand -hex 32
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	b, err := hex.DecodeString(s)
	if err == nil {
		return checkKeySize(b)
	}
	if len(s) == 2*KeySize {
		// The length of a hexadecimal key: a typo, not base64.
		return nil, fmt.Errorf("%w: 64 characters but not hexadecimal: %v", ErrKeySize, err)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return checkKeySize(b)
		}
	}
	return nil, fmt.Errorf("%w: not hexadecimal or base64", ErrKeySize)
}

func checkKeySize(b []byte) ([]byte, error) {
	if len(b) != KeySize {
		return nil, fmt.Errorf("%w: got %d bytes", ErrKeySize, len(b))
	}
	return b, nil
}

// NewKey returns a new random key, for tests and for a process that keeps
// its cache only as long as it runs.
func NewKey() []byte {
	b := make([]byte, KeySize)
	rand.Read(b)
	return b
}

// Len returns how many keys the ring holds: the current key and the
// previous ones. HashNames returns as many names.
func (k *Keyring) Len() int { return len(k.keys) }

// current is the key that seals.
func (k *Keyring) current() *ringKey { return k.keys[0] }

// byID returns the ring's key with identifier id, or nil.
func (k *Keyring) byID(id []byte) *ringKey {
	for _, rk := range k.keys {
		if string(rk.id[:]) == string(id) {
			return rk
		}
	}
	return nil
}

// aead returns the cipher of partition's entries under rk, for purpose (a
// store's format), derived once and kept.
func (k *Keyring) aead(rk *ringKey, purpose, partition string) (cipher.AEAD, error) {
	name := derivedKey{rk, purpose, partition}
	k.mu.Lock()
	aead, ok := k.derived[name]
	k.mu.Unlock()
	if ok {
		return aead, nil
	}
	key, err := hkdf.Key(sha256.New, rk.secret, nil, "httpcache "+purpose+"\x00"+partition, KeySize)
	if err != nil {
		return nil, err
	}
	if aead, err = newAEAD(key); err != nil {
		return nil, err
	}
	k.mu.Lock()
	if len(k.derived) >= maxDerivedKeys {
		clear(k.derived)
	}
	k.derived[name] = aead
	k.mu.Unlock()
	return aead, nil
}

// HashName returns a name for s (a URL, a storage key, a tag, a Vary
// variant) that does not reveal it: a keyed hash (HMAC-SHA256) under the
// current key, in hexadecimal, of 2*size digits (at most 64). Stores name
// what they write by it.
func (k *Keyring) HashName(s string, size int) string {
	return hashName(k.current(), s, size)
}

// HashNames returns s's names under every key of the ring, the current
// key's first: where an entry written before a rotation is found.
func (k *Keyring) HashNames(s string, size int) []string {
	names := make([]string, len(k.keys))
	for i, rk := range k.keys {
		names[i] = hashName(rk, s, size)
	}
	return names
}

func hashName(rk *ringKey, s string, size int) string {
	mac := hmac.New(sha256.New, rk.nameKey)
	mac.Write([]byte(s))
	sum := mac.Sum(nil)
	return hex.EncodeToString(sum[:min(max(size, 1), len(sum))])
}

// Sealed values: magic, version, the sealing key's identifier, a random
// nonce, then the AES-GCM ciphertext and tag. The header is authenticated
// with the storage key the value was sealed for.
const (
	sealedMagic    = "HCS"
	sealedVersion  = 1
	sealedOverhead = len(sealedMagic) + 1 + keyIDSize + 12 + 16
)

// Seal encrypts and authenticates value (an encoded entry, or anything a
// store keeps for key) for storage key key, under the current key as
// derived for key's partition. Open, given the same key, returns value.
func (k *Keyring) Seal(key string, value []byte) ([]byte, error) {
	rk := k.current()
	aead, err := k.aead(rk, "entry", KeyPartition(key))
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, sealedOverhead+len(value))
	out = append(out, sealedMagic...)
	out = append(out, sealedVersion)
	out = append(out, rk.id[:]...)
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	out = append(out, nonce...)
	header := out
	return aead.Seal(out, nonce, value, sealedAAD(header, key)), nil
}

// Open checks and decrypts what Seal sealed for storage key key, with
// whichever key of the ring sealed it. A value sealed for another key or
// partition, by a key the ring lacks, or tampered with, is an error
// wrapping ErrCorruptEntry.
func (k *Keyring) Open(key string, sealed []byte) ([]byte, error) {
	headerLen := len(sealedMagic) + 1 + keyIDSize + 12
	if len(sealed) < sealedOverhead || string(sealed[:3]) != sealedMagic || sealed[3] != sealedVersion {
		return nil, fmt.Errorf("%w: %w: not a sealed value", ErrCorruptEntry, errSealed)
	}
	rk := k.byID(sealed[4 : 4+keyIDSize])
	if rk == nil {
		return nil, fmt.Errorf("%w: %w: sealed by a key the Keyring does not hold", ErrCorruptEntry, errSealed)
	}
	aead, err := k.aead(rk, "entry", KeyPartition(key))
	if err != nil {
		return nil, err
	}
	header := sealed[:headerLen]
	plain, err := aead.Open(nil, header[4+keyIDSize:], sealed[headerLen:], sealedAAD(header, key))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorruptEntry, errSealed)
	}
	return plain, nil
}

// sealedAAD is what a sealed value's tag covers beside its ciphertext:
// its header and the storage key it belongs to.
func sealedAAD(header []byte, key string) []byte {
	aad := make([]byte, 0, len(header)+len(key))
	aad = append(aad, header...)
	return append(aad, key...)
}

// SealListing encrypts a storage key for a store to keep beside an entry,
// so that it can list its keys (KeyLister) without keeping them in clear.
// OpenListing returns it.
func (k *Keyring) SealListing(key string) []byte {
	rk := k.current()
	out := append([]byte(nil), rk.id[:]...)
	nonce := make([]byte, rk.listing.NonceSize())
	rand.Read(nonce)
	out = append(out, nonce...)
	return rk.listing.Seal(out, nonce, []byte(key), rk.id[:])
}

// OpenListing returns the storage key SealListing sealed, or an error
// wrapping ErrCorruptEntry.
func (k *Keyring) OpenListing(sealed []byte) (string, error) {
	if len(sealed) < keyIDSize+12+16 {
		return "", fmt.Errorf("%w: %w", ErrCorruptEntry, errSealed)
	}
	rk := k.byID(sealed[:keyIDSize])
	if rk == nil {
		return "", fmt.Errorf("%w: %w", ErrCorruptEntry, errSealed)
	}
	nonce := sealed[keyIDSize : keyIDSize+12]
	key, err := rk.listing.Open(nil, nonce, sealed[keyIDSize+12:], rk.id[:])
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrCorruptEntry, errSealed)
	}
	return string(key), nil
}
