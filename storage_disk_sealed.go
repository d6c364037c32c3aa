package httpcache

import (
	"bytes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// An encrypted DiskStorage (NewEncryptedDiskStorage) writes each key's
// file as version 4:
//
//	"HCD" 4, the sealing key's identifier (8 bytes), a random salt of the
//	file's own (16 bytes), the storage key sealed for listing (uvarint
//	length, bytes; Keyring.SealListing), then segments
//
// The segments hold what a version 3 file holds after its key (the
// records), cut into pieces of diskSegment bytes, each sealed with AES-GCM
// under a key of the file's own, derived (HKDF) from the ring's key, the
// storage key's partition and the salt, with the segment's number and a
// flag on the last one as its nonce, and the file's header and storage
// key as additional data. A key per file means no nonce is ever used
// twice under one key, however many files a partition has. So each
// segment is checked before any of its bytes is used; a segment moved
// within the file, taken from another file, or a file cut short at a
// segment's end, fails its check. The store reads such a file through a
// view that shows it as the version 3 file it seals, so that the records
// are read as in a clear file, bodies streaming segment by segment.
//
// File names are keyed hashes (Keyring.HashName) of the URL and the key,
// so the directory shows no URL.

const (
	diskFileVersionSealed = 4
	diskSegment           = 64 << 10
	diskSegmentTag        = 16
	diskSealedSalt        = 16
	// diskSealedHeader is the fixed part of a version 4 header.
	diskSealedHeader = len(diskFileMagic) + 1 + keyIDSize + diskSealedSalt
	// diskMaxSegments: a segment's number takes three bytes of the nonce.
	diskMaxSegments = 1 << 24
	// diskMaxSealedKey bounds the sealed key a header holds.
	diskMaxSealedKey = diskMaxKey + keyIDSize + 12 + 16
)

// errUnknownKey wraps ErrCorruptEntry for a file sealed by a key the ring
// does not hold: another ring's, or a dropped key's.
var errUnknownKey = fmt.Errorf("%w: sealed by a key the Keyring does not hold", ErrCorruptEntry)

// errTooManySegments is returned for a file past diskMaxSegments.
var errTooManySegments = errors.New("httpcache: disk storage: an encrypted file of more than 1 TiB")

// sealedNames returns the paths, relative to dir, key's file may have,
// under each key of the ring, the current key's first: as fileName, with
// keyed hashes for digests.
func sealedNames(keys *Keyring, key string) []string {
	names := make([]string, len(keys.keys))
	for i, rk := range keys.keys {
		names[i] = sealedName(rk, key)
	}
	return names
}

func sealedName(rk *ringKey, key string) string {
	h := hashName(rk, KeyURL(key), 32)
	name := filepath.Join(h[:2], h)
	if KeyPartition(key) != "" {
		name += "." + hashName(rk, key, 32)
	}
	return name
}

// sealedURLNames returns, for each key of the ring, the name of url's file
// without a partition: what urlFileName is to a clear store.
func sealedURLNames(keys *Keyring, url string) []string {
	names := make([]string, len(keys.keys))
	for i, rk := range keys.keys {
		h := hashName(rk, url, 32)
		names[i] = filepath.Join(h[:2], h)
	}
	return names
}

// sealedFileWriter writes a version 4 file: its header at once, then the
// records written to it, sealed a segment at a time; Close seals the last.
type sealedFileWriter struct {
	w       io.Writer
	aead    cipher.AEAD
	aad     []byte
	segment uint32
	pending []byte // at most one segment, not yet sealed
	sealed  []byte
}

func newSealedFileWriter(w io.Writer, keys *Keyring, key string) (*sealedFileWriter, error) {
	rk := keys.current()
	var salt [diskSealedSalt]byte
	rand.Read(salt[:])
	aead, err := fileAEAD(rk, KeyPartition(key), salt)
	if err != nil {
		return nil, err
	}
	s := &sealedFileWriter{w: w, aead: aead, pending: make([]byte, 0, diskSegment)}
	header := make([]byte, 0, diskSealedHeader+binary.MaxVarintLen64+len(key)+64)
	header = append(header, diskFileMagic...)
	header = append(header, diskFileVersionSealed)
	header = append(header, rk.id[:]...)
	header = append(header, salt[:]...)
	listing := keys.SealListing(key)
	header = binary.AppendUvarint(header, uint64(len(listing)))
	header = append(header, listing...)
	s.aad = append(bytes.Clone(header), key...)
	if _, err := w.Write(header); err != nil {
		return nil, err
	}
	return s, nil
}

// fileAEAD is the cipher of one file: its key derived from the ring's
// key, the partition and the file's salt.
func fileAEAD(rk *ringKey, partition string, salt [diskSealedSalt]byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, rk.secret, salt[:], "httpcache disk\x00"+partition, KeySize)
	if err != nil {
		return nil, err
	}
	return newAEAD(key)
}

// Write takes records' bytes, sealing each full segment once more follow:
// the last segment, which may be full, is sealed by Close.
func (s *sealedFileWriter) Write(p []byte) (int, error) {
	written := len(p)
	for len(p) > 0 {
		if len(s.pending) == diskSegment {
			if err := s.seal(s.pending, false); err != nil {
				return 0, err
			}
			s.pending = s.pending[:0]
		}
		n := min(len(p), diskSegment-len(s.pending))
		s.pending = append(s.pending, p[:n]...)
		p = p[n:]
	}
	return written, nil
}

// Close seals the last segment.
func (s *sealedFileWriter) Close() error {
	return s.seal(s.pending, true)
}

func (s *sealedFileWriter) seal(plain []byte, last bool) error {
	if s.segment >= diskMaxSegments {
		return errTooManySegments
	}
	nonce := segmentNonce(s.segment, last)
	s.sealed = s.aead.Seal(s.sealed[:0], nonce[:], plain, s.aad)
	s.segment++
	_, err := s.w.Write(s.sealed)
	return err
}

// segmentNonce is a segment's nonce under its file's key: the segment's
// number and 1 for the last segment.
func segmentNonce(segment uint32, last bool) [12]byte {
	var nonce [12]byte
	binary.BigEndian.PutUint32(nonce[7:11], segment)
	if last {
		nonce[11] = 1
	}
	return nonce
}

// sealedFileView shows a version 4 file of key as the version 3 file it
// seals: an io.ReaderAt that opens a segment, checked whole, before it
// returns any of its bytes. It keeps the last segment it opened, for
// reads in order. It is not safe for concurrent use.
type sealedFileView struct {
	file      io.ReaderAt
	header    []byte // the version 3 header: magic, version, key
	segStart  int64  // where the first segment is in file
	cipherLen int64
	plainLen  int64
	segments  int64
	aead      cipher.AEAD
	salt      [diskSealedSalt]byte // the file's own: what tells it from another
	aad       []byte

	opened int64 // the segment in plain; -1 for none
	plain  []byte
	buf    []byte
}

// segmentBuffers hold a view's segment, opened and sealed: a hit does not
// allocate them afresh.
var segmentBuffers = sync.Pool{New: func() any { b := make([]byte, 0, diskSegment+diskSegmentTag); return &b }}

// release returns the view's buffers to the pool; the view is not used
// after.
func (v *sealedFileView) release() {
	for _, b := range []*[]byte{&v.plain, &v.buf} {
		if cap(*b) == diskSegment+diskSegmentTag {
			buf := (*b)[:0]
			segmentBuffers.Put(&buf)
		}
		*b = nil
	}
	v.opened = -1
}

// segmentBuffer returns a pooled buffer of a segment's capacity.
func segmentBuffer() []byte { return (*segmentBuffers.Get().(*[]byte))[:0] }

// openSealedFile reads the header of a version 4 file of size bytes,
// meant to hold key, and returns its view. A file that is not one, or is
// sealed by a key the ring lacks, is an error wrapping ErrCorruptEntry;
// whether it holds key shows when a segment is opened.
func openSealedFile(f io.ReaderAt, size int64, keys *Keyring, key string) (*sealedFileView, error) {
	headerEnd, rk, salt, err := readSealedHeader(f, size, keys)
	if err != nil {
		return nil, err
	}
	aead, err := fileAEAD(rk, KeyPartition(key), salt)
	if err != nil {
		return nil, err
	}
	v := &sealedFileView{file: f, segStart: headerEnd, cipherLen: size - headerEnd, aead: aead, salt: salt, opened: -1}
	full := int64(diskSegment + diskSegmentTag)
	v.segments = (v.cipherLen + full - 1) / full
	if v.segments == 0 || v.segments > diskMaxSegments || v.cipherLen-(v.segments-1)*full < diskSegmentTag {
		return nil, fmt.Errorf("%w: encrypted segments cut short", ErrCorruptEntry)
	}
	v.plainLen = v.cipherLen - v.segments*diskSegmentTag
	header := make([]byte, headerEnd)
	if _, err := f.ReadAt(header, 0); err != nil {
		return nil, fmt.Errorf("%w: short header", ErrCorruptEntry)
	}
	v.aad = append(header, key...)
	v.header = appendDiskFileHeader(nil, key)
	return v, nil
}

// readSealedHeader checks a version 4 header and returns where it ends,
// the ring's key that sealed the file and the file's salt.
func readSealedHeader(f io.ReaderAt, size int64, keys *Keyring) (end int64, rk *ringKey, salt [diskSealedSalt]byte, err error) {
	notSealed := fmt.Errorf("%w: not an encrypted entry file", ErrCorruptEntry)
	var first [diskSealedHeader + binary.MaxVarintLen64]byte
	n, _ := f.ReadAt(first[:min(int64(len(first)), size)], 0)
	if n < diskSealedHeader || string(first[:3]) != diskFileMagic || first[3] != diskFileVersionSealed {
		return 0, nil, salt, notSealed
	}
	if rk = keys.byID(first[4 : 4+keyIDSize]); rk == nil {
		return 0, nil, salt, errUnknownKey
	}
	copy(salt[:], first[4+keyIDSize:diskSealedHeader])
	listingLen, lenBytes := binary.Uvarint(first[diskSealedHeader:n])
	if lenBytes <= 0 || listingLen > diskMaxSealedKey {
		return 0, nil, salt, notSealed
	}
	end = int64(diskSealedHeader+lenBytes) + int64(listingLen)
	if end > size {
		return 0, nil, salt, notSealed
	}
	return end, rk, salt, nil
}

// readSealedKey returns the storage key a version 4 file names, opened
// with the ring, and the ring's key that sealed it.
func readSealedKey(f io.ReaderAt, size int64, keys *Keyring) (string, *ringKey, error) {
	end, rk, _, err := readSealedHeader(f, size, keys)
	if err != nil {
		return "", nil, err
	}
	var first [diskSealedHeader + binary.MaxVarintLen64]byte
	n, _ := f.ReadAt(first[:min(int64(len(first)), size)], 0)
	_, lenBytes := binary.Uvarint(first[diskSealedHeader:n])
	start := int64(diskSealedHeader + lenBytes)
	listing := make([]byte, end-start)
	if _, err := f.ReadAt(listing, start); err != nil {
		return "", nil, fmt.Errorf("%w: short header", ErrCorruptEntry)
	}
	key, err := keys.OpenListing(listing)
	return key, rk, err
}

// Size is the size of the version 3 file the view shows.
func (v *sealedFileView) Size() int64 { return int64(len(v.header)) + v.plainLen }

// ReadAt reads the version 3 file the view shows.
func (v *sealedFileView) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("httpcache: negative offset")
	}
	read := 0
	for read < len(p) {
		at := off + int64(read)
		if at >= v.Size() {
			return read, io.EOF
		}
		if at < int64(len(v.header)) {
			read += copy(p[read:], v.header[at:])
			continue
		}
		plainAt := at - int64(len(v.header))
		segment := plainAt / diskSegment
		if err := v.open(segment); err != nil {
			return read, err
		}
		read += copy(p[read:], v.plain[plainAt-segment*diskSegment:])
	}
	return read, nil
}

// open checks and decrypts segment into v.plain.
func (v *sealedFileView) open(segment int64) error {
	if v.opened == segment {
		return nil
	}
	full := int64(diskSegment + diskSegmentTag)
	length := min(full, v.cipherLen-segment*full)
	if v.buf == nil {
		v.buf, v.plain = segmentBuffer(), segmentBuffer()
	}
	buf := v.buf[:length]
	if _, err := v.file.ReadAt(buf, v.segStart+segment*full); err != nil {
		v.opened = -1
		return fmt.Errorf("%w: short segment %d", ErrCorruptEntry, segment)
	}
	nonce := segmentNonce(uint32(segment), segment == v.segments-1)
	plain, err := v.aead.Open(v.plain[:0], nonce[:], buf, v.aad)
	if err != nil {
		v.opened = -1
		return fmt.Errorf("%w: segment %d fails its check", ErrCorruptEntry, segment)
	}
	v.plain, v.opened = plain, segment
	return nil
}

// readSealedDiskFile is readDiskFile for an encrypted store's file of key.
// info is set when the file is larger than a first read, for the bodies
// left in it.
func readSealedDiskFile(f entryFile, keys *Keyring, key string) (records []diskRecord, size int64, info os.FileInfo, salt [diskSealedSalt]byte, err error) {
	buffer := smallFileBuffers.Get().(*[]byte)
	defer smallFileBuffers.Put(buffer)
	n, err := f.ReadAt(*buffer, 0)
	var from io.ReaderAt
	switch {
	case err == io.EOF:
		// The whole file is in the buffer. The records copy what they keep.
		from, size = bytes.NewReader((*buffer)[:n]), int64(n)
	case err != nil:
		return nil, 0, nil, salt, err
	default:
		if info, err = f.Stat(); err != nil {
			return nil, 0, nil, salt, err
		}
		from, size = f, info.Size()
	}
	view, err := openSealedFile(from, size, keys, key)
	if err != nil {
		return nil, 0, nil, salt, err
	}
	records, err = readDiskRecordsWithBodies(view, view.Size(), digestOf(key), diskInlineBody)
	view.release()
	return records, size, info, view.salt, err
}

// sealedByRing reports whether the file at path is an encrypted entry
// file, or one sealed by a key the ring does not hold: another process's
// with other keys, which is left alone (a mistyped key must not wipe a
// shared directory). A file in clear, or not an entry file, is not.
func (d *DiskStorage) sealedByRing(path string, size int64) bool {
	f, err := openRegular(path)
	if err != nil {
		return true // gone, or not ours to judge: Get decides
	}
	defer f.Close()
	_, _, _, err = readSealedHeader(f, size, d.keys)
	return err == nil || errors.Is(err, errUnknownKey)
}
