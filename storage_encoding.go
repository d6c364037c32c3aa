package httpcache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"slices"
	"time"
)

// The binary form of an Entry, for stores that keep bytes (disk, Redis):
//
//	magic   "HCE" and a version byte (1)
//	uint32  length of the metadata, big-endian
//	meta    variant, status, request and response times, header fields,
//	        body length (uvarint lengths and counts)
//	uint32  CRC-32C of everything above
//	body    the body's bytes
//	uint32  CRC-32C of the body
//
// The metadata carries its own checksum so that a store can check it and
// then stream the body, verifying the body's checksum as it goes.

const (
	entryMagic      = "HCE"
	entryVersion    = 1
	entryPrefixSize = 8 // magic, version, metadata length
	checksumSize    = 4

	// Bounds that keep a corrupt or hostile input from making the decoder
	// allocate without limit.
	maxEncodedMeta   = 1 << 20
	maxHeaderFields  = 1 << 12
	maxHeaderValues  = 1 << 12
	maxEncodedString = 1 << 20
)

// ErrCorruptEntry is returned, wrapped, when encoded entry bytes fail their
// checksum or do not decode. Stores treat such an entry as a miss.
var ErrCorruptEntry = errors.New("httpcache: corrupt cache entry")

// ErrEntryTooLarge is returned, wrapped, by MarshalEntry for an entry whose
// header or metadata exceeds what UnmarshalEntry reads back; such an entry
// is not stored.
var ErrEntryTooLarge = errors.New("httpcache: entry too large to encode")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkDecodable reports an entry the decoder's bounds would refuse.
func checkDecodable(e *Entry) error {
	if len(e.Header) > maxHeaderFields {
		return fmt.Errorf("%w: %d header fields", ErrEntryTooLarge, len(e.Header))
	}
	if len(e.Variant) > maxEncodedString {
		return fmt.Errorf("%w: a variant of %d bytes", ErrEntryTooLarge, len(e.Variant))
	}
	for name, values := range e.Header {
		if len(values) > maxHeaderValues || len(name) > maxEncodedString {
			return fmt.Errorf("%w: field %.64q", ErrEntryTooLarge, name)
		}
		for _, v := range values {
			if len(v) > maxEncodedString {
				return fmt.Errorf("%w: a value of %s of %d bytes", ErrEntryTooLarge, name, len(v))
			}
		}
	}
	return nil
}

// MarshalEntry encodes e in the versioned binary format with checksums, for
// stores that keep bytes. UnmarshalEntry decodes it.
func MarshalEntry(e *Entry) ([]byte, error) {
	return appendEntry(nil, e)
}

// appendEntry appends the encoding of e to dst. An entry the decoder
// would refuse (more header fields or values, or longer metadata, than it
// reads) is an error wrapping ErrEntryTooLarge: it is never written, to be
// found corrupt on every read.
func appendEntry(dst []byte, e *Entry) ([]byte, error) {
	if err := checkDecodable(e); err != nil {
		return nil, err
	}
	body, err := bodyBytes(e.Body)
	if err != nil {
		return nil, fmt.Errorf("httpcache: reading entry body: %w", err)
	}
	var metaBuffer [512]byte
	meta := appendEntryMeta(metaBuffer[:0], e, int64(len(body)))
	if len(meta) > maxEncodedMeta {
		return nil, fmt.Errorf("%w: %d bytes of metadata", ErrEntryTooLarge, len(meta))
	}
	dst = slices.Grow(dst, entryPrefixSize+len(meta)+checksumSize+len(body)+checksumSize)
	start := len(dst)
	dst = append(dst, entryMagic...)
	dst = append(dst, entryVersion)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(meta)))
	dst = append(dst, meta...)
	dst = binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
	dst = append(dst, body...)
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(body, castagnoli)), nil
}

// UnmarshalEntry decodes bytes made by MarshalEntry. The entry's body shares
// data's memory, so data must not be modified afterwards. Any damage is
// reported as an error wrapping ErrCorruptEntry; it never panics.
func UnmarshalEntry(data []byte) (*Entry, error) {
	e, bodyLen, metaEnd, err := decodeEntryMeta(data)
	if err != nil {
		return nil, err
	}
	rest := data[metaEnd:]
	if int64(len(rest)) != bodyLen+checksumSize {
		return nil, fmt.Errorf("%w: body is %d bytes, want %d", ErrCorruptEntry, len(rest)-checksumSize, bodyLen)
	}
	body := rest[:bodyLen]
	if binary.BigEndian.Uint32(rest[bodyLen:]) != crc32.Checksum(body, castagnoli) {
		return nil, fmt.Errorf("%w: body checksum mismatch", ErrCorruptEntry)
	}
	e.Body = BytesBody(body)
	return e, nil
}

// decodeEntryMeta checks and decodes the prefix and metadata of an encoded
// entry. It returns the entry without its body, the body's length and the
// offset at which the body starts.
func decodeEntryMeta(data []byte) (e *Entry, bodyLen int64, bodyStart int, err error) {
	if len(data) < entryPrefixSize+checksumSize || string(data[:3]) != entryMagic {
		return nil, 0, 0, fmt.Errorf("%w: not an entry", ErrCorruptEntry)
	}
	if data[3] != entryVersion {
		return nil, 0, 0, fmt.Errorf("%w: unknown version %d", ErrCorruptEntry, data[3])
	}
	metaLen := binary.BigEndian.Uint32(data[4:8])
	if metaLen > maxEncodedMeta || int(metaLen) > len(data)-entryPrefixSize-checksumSize {
		return nil, 0, 0, fmt.Errorf("%w: metadata length %d out of range", ErrCorruptEntry, metaLen)
	}
	metaEnd := entryPrefixSize + int(metaLen)
	if binary.BigEndian.Uint32(data[metaEnd:]) != crc32.Checksum(data[:metaEnd], castagnoli) {
		return nil, 0, 0, fmt.Errorf("%w: metadata checksum mismatch", ErrCorruptEntry)
	}
	d := newMetaDecoder(data[entryPrefixSize:metaEnd])
	e = &Entry{}
	e.Variant = d.string()
	e.StatusCode = int(d.uvarint())
	e.RequestTime = d.time()
	e.ResponseTime = d.time()
	e.Header = d.header()
	bodyLen = int64(d.uvarint())
	if d.err == nil && len(d.buf) != 0 {
		d.err = errors.New("trailing metadata")
	}
	if d.err == nil && (e.StatusCode < 100 || e.StatusCode > 999 || bodyLen < 0) {
		d.err = fmt.Errorf("status %d, body length %d", e.StatusCode, bodyLen)
	}
	if d.err != nil {
		return nil, 0, 0, fmt.Errorf("%w: %v", ErrCorruptEntry, d.err)
	}
	return e, bodyLen, metaEnd + checksumSize, nil
}

func appendEntryMeta(b []byte, e *Entry, bodyLen int64) []byte {
	b = appendString(b, e.Variant)
	b = binary.AppendUvarint(b, uint64(e.StatusCode))
	b = appendTime(b, e.RequestTime)
	b = appendTime(b, e.ResponseTime)
	b = binary.AppendUvarint(b, uint64(len(e.Header)))
	for name, values := range e.Header {
		b = appendString(b, name)
		b = binary.AppendUvarint(b, uint64(len(values)))
		for _, v := range values {
			b = appendString(b, v)
		}
	}
	return binary.AppendUvarint(b, uint64(bodyLen))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// metaDecoder reads the metadata section; the first error sticks and every
// later read returns a zero value. Its strings share one copy of the
// section (text), so a decode allocates once for all of them.
type metaDecoder struct {
	buf  []byte // what is left to read
	text string // the whole section
	err  error
}

func newMetaDecoder(meta []byte) metaDecoder {
	return metaDecoder{buf: meta, text: string(meta)}
}

func (d *metaDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.err = errors.New("bad uvarint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *metaDecoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.err = errors.New("bad varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *metaDecoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > maxEncodedString || n > uint64(len(d.buf)) {
		d.err = fmt.Errorf("string length %d out of range", n)
		return ""
	}
	start := len(d.text) - len(d.buf)
	d.buf = d.buf[n:]
	return d.text[start : start+int(n)]
}

func (d *metaDecoder) time() time.Time {
	sec := d.varint()
	nsec := d.uvarint()
	if d.err == nil && nsec >= uint64(time.Second) {
		d.err = errors.New("bad nanoseconds")
	}
	if d.err != nil {
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (d *metaDecoder) header() http.Header {
	fields := d.uvarint()
	if d.err == nil && fields > maxHeaderFields {
		d.err = fmt.Errorf("%d header fields", fields)
	}
	if d.err != nil {
		return nil
	}
	h := make(http.Header, fields)
	// One backing array for the values of all fields; each field's slice
	// has its own capacity, so appending to one never touches another.
	backing := make([]string, 0, fields+fields/2)
	for i := uint64(0); i < fields && d.err == nil; i++ {
		name := d.string()
		count := d.uvarint()
		if d.err == nil && (count > maxHeaderValues || count > uint64(len(d.buf))) {
			d.err = fmt.Errorf("%d header values", count)
		}
		if d.err != nil {
			return nil
		}
		start := len(backing)
		for j := uint64(0); j < count && d.err == nil; j++ {
			backing = append(backing, d.string())
		}
		h[name] = backing[start:len(backing):len(backing)]
	}
	return h
}
