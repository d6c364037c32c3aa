package httpcache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultDiskBytes bounds a DiskStorage made with a bound of zero or less.
const DefaultDiskBytes = 1 << 30

const (
	// diskFileMagic starts every entry file, with a version byte.
	diskFileMagic   = "HCD"
	diskFileVersion = 1
	// diskRecordHeader is a record's expiry (int64, Unix nanoseconds, 0 for
	// none) and the length of its encoded entry (uint32).
	diskRecordHeader = 12
	// diskInlineBody is the largest body read into memory on a Get; larger
	// bodies stream from the file when the response is read.
	diskInlineBody = 64 << 10
	// diskReadWhole is the largest file a Get reads in one call.
	diskReadWhole = 128 << 10
	// diskTempPrefix names files being written; a scan removes those left
	// by a crash once they are older than diskTempMaxAge.
	diskTempPrefix = ".tmp-"
	diskTempMaxAge = time.Hour
	// diskSpareDir keeps files that were removed, for reuse: creating a
	// file can cost a millisecond (an inode allocated and journaled), while
	// renaming one costs tens of microseconds. At most maxSpareFiles are
	// kept. Only files of up to maxSpareSize are reused: a reader checks
	// every byte of such a file before it serves any (its bodies are all
	// inline), so a file rewritten while it is read is a checksum failure,
	// a miss. A larger file's body streams to the caller, so its content
	// must never change once renamed into place: it is removed, never
	// reused.
	diskSpareDir  = "spare"
	maxSpareFiles = 256
	maxSpareSize  = diskInlineBody
)

// DiskStorage is a Storage in a directory, for caches that outlive the
// process: command-line tools, and services that restart. It is bounded by
// bytes, evicting the least recently used keys, and safe for concurrent use
// by goroutines and by processes sharing the directory.
//
// Each key is one file, named by a hash of the key and fanned out into
// subdirectories, holding the key's variants in the entry encoding (with
// checksums over metadata and body). A write goes to a temporary file that
// is renamed into place, so a reader sees a whole old file or a whole new
// one, never part of either; a file that fails its checksums is treated as
// a miss and removed.
//
// Durability: writes are not synced to disk. A crash may lose the latest
// entries, which costs only misses; it never leaves a corrupt entry that is
// served.
//
// The byte bound is kept for the files this process knows: those found
// when the directory was opened and those it has written or read since.
// Bodies larger than 64 KiB stream from the file when a response is read.
type DiskStorage struct {
	dir      string
	maxBytes int64

	mu        sync.Mutex
	usedBytes int64
	files     map[string]*diskFile // by path relative to dir
	recency   recencyList[*diskFile]
	spares    []spareFile // in the spare directory
	secret    []byte
}

// spareFile is a file kept for reuse, and its size.
type spareFile struct {
	name string
	size int64
}

// diskFile is one key's file in the recency list.
type diskFile struct {
	name string
	size int64
	node recencyNode[*diskFile]
}

// NewDiskStorage opens (creating it if needed) a cache directory holding at
// most maxBytes of entry files; zero or less means DefaultDiskBytes. It
// scans the directory to rebuild its accounting, removes what a crash left
// half-written, and evicts down to the bound. It returns an error when dir
// cannot be used: not a directory, or not writable.
func NewDiskStorage(dir string, maxBytes int64) (*DiskStorage, error) {
	if dir == "" {
		return nil, errors.New("httpcache: NewDiskStorage: empty directory name")
	}
	if maxBytes <= 0 {
		maxBytes = DefaultDiskBytes
	}
	if err := os.MkdirAll(filepath.Join(dir, diskSpareDir), 0o755); err != nil {
		return nil, fmt.Errorf("httpcache: NewDiskStorage: %w", err)
	}
	probe, err := os.CreateTemp(dir, diskTempPrefix+"probe-*")
	if err != nil {
		return nil, fmt.Errorf("httpcache: NewDiskStorage: directory %s is not writable: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	d := &DiskStorage{dir: dir, maxBytes: maxBytes, files: make(map[string]*diskFile), secret: newPartitionSecret()}
	if err := d.scan(); err != nil {
		return nil, fmt.Errorf("httpcache: NewDiskStorage: scanning %s: %w", dir, err)
	}
	return d, nil
}

// scan rebuilds the accounting from the directory, oldest files least
// recently used.
func (d *DiskStorage) scan() error {
	type found struct {
		name    string
		size    int64
		modTime time.Time
	}
	var files []found
	var spares []spareFile
	now := time.Now()
	err := filepath.WalkDir(d.dir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walk
			}
			return err
		}
		if entry.IsDir() {
			return nil
		}
		info, err := entry.Info()
		if err != nil {
			return nil
		}
		if filepath.Base(filepath.Dir(path)) == diskSpareDir {
			if len(spares) < maxSpareFiles && info.Size() <= maxSpareSize {
				spares = append(spares, spareFile{entry.Name(), info.Size()})
			} else {
				os.Remove(path)
			}
			return nil
		}
		if strings.HasPrefix(entry.Name(), diskTempPrefix) {
			if now.Sub(info.ModTime()) > diskTempMaxAge {
				os.Remove(path)
			}
			return nil
		}
		name, err := filepath.Rel(d.dir, path)
		if err != nil || !isDiskFileName(name) {
			return nil // not ours
		}
		files = append(files, found{name, info.Size(), info.ModTime()})
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(files, func(a, b found) int { return a.modTime.Compare(b.modTime) })
	d.mu.Lock()
	d.spares = spares
	for _, f := range files {
		d.touch(f.name, f.size)
	}
	victims := d.evict(nil)
	d.mu.Unlock()
	d.removeFiles(victims)
	return nil
}

// fileName returns the path, relative to dir, of key's file: a SHA-256 of
// the key's URL (KeyURL) in hex, fanned out into 256 subdirectories as
// ab/abcd…, so that any key is a safe name and no directory grows too
// large; for a key with a partition, the URL's name, a dot and a SHA-256 of
// the whole key. Every file of a URL is in one subdirectory and starts with
// its name, so that DeleteURL finds them all.
func fileName(key string) string {
	name := urlFileName(KeyURL(key))
	if KeyPartition(key) == "" {
		return name
	}
	sum := sha256.Sum256([]byte(key))
	return name + "." + hex.EncodeToString(sum[:])
}

// urlFileName is the name of the file of url's key without a partition.
func urlFileName(url string) string {
	sum := sha256.Sum256([]byte(url))
	h := hex.EncodeToString(sum[:])
	return filepath.Join(h[:2], h)
}

func isDiskFileName(name string) bool {
	base := filepath.Base(name)
	urlPart, keyPart, partitioned := strings.Cut(base, ".")
	if !isHexDigest(urlPart) || (partitioned && !isHexDigest(keyPart)) {
		return false
	}
	return name == filepath.Join(base[:2], base)
}

func isHexDigest(s string) bool {
	if len(s) != sha256.Size*2 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// Get returns the unexpired variants stored under key. A file that fails
// its checks is removed and counts as a miss.
func (d *DiskStorage) Get(_ context.Context, key string) ([]*Entry, error) {
	name := fileName(key)
	path := filepath.Join(d.dir, name)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		d.forget(name)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	records, size, info, err := readDiskFile(f)
	if errors.Is(err, ErrCorruptEntry) {
		d.removeCorrupt(name, path, f)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now := time.Now()
	var entries []*Entry
	for _, r := range records {
		if r.expired(now) {
			continue
		}
		if r.entry.Body == nil {
			r.entry.Body = &diskBody{path: path, info: info, offset: r.bodyOffset, size: r.bodySize,
				checksum: r.bodyChecksum, metaChecksumAt: r.metaChecksumAt, metaChecksum: r.metaChecksum}
		}
		entries = append(entries, r.entry)
	}
	if len(entries) == 0 {
		d.Delete(context.Background(), key)
		return nil, nil
	}
	d.mu.Lock()
	d.touch(name, size)
	d.mu.Unlock()
	return entries, nil
}

// smallFileBuffers hold the first read of a Get: most entry files fit, and
// are then read with one call, without a stat.
var smallFileBuffers = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// readDiskFile reads the records of an open entry file, with bodies of up
// to diskInlineBody bytes. info is set when the file is larger than a first
// read, for the bodies left in it.
func readDiskFile(f *os.File) (records []diskRecord, size int64, info os.FileInfo, err error) {
	buffer := smallFileBuffers.Get().(*[]byte)
	defer smallFileBuffers.Put(buffer)
	n, err := f.ReadAt(*buffer, 0)
	if err == io.EOF {
		// The whole file is in the buffer. The records copy what they keep.
		records, err = readDiskRecordsWithBodies(bytes.NewReader((*buffer)[:n]), int64(n))
		return records, int64(n), nil, err
	}
	if err != nil {
		return nil, 0, nil, err
	}
	if info, err = f.Stat(); err != nil {
		return nil, 0, nil, err
	}
	var from io.ReaderAt = f
	if info.Size() <= diskReadWhole {
		data := make([]byte, info.Size())
		if _, err := f.ReadAt(data, 0); err != nil {
			return nil, 0, nil, fmt.Errorf("%w: %v", ErrCorruptEntry, err)
		}
		from = bytes.NewReader(data)
	}
	records, err = readDiskRecordsWithBodies(from, info.Size())
	return records, info.Size(), info, err
}

// Set stores entry under key, keeping the key's other variants: it writes
// the key's new file beside the old one and renames it into place.
func (d *DiskStorage) Set(_ context.Context, key string, entry *Entry, ttl time.Duration) error {
	var expiry int64
	if ttl > 0 {
		expiry = time.Now().Add(ttl).UnixNano()
	}
	name := fileName(key)
	path := filepath.Join(d.dir, name)
	tmp, oldSize, err := d.tempFile(filepath.Dir(path))
	if err != nil {
		return err
	}
	d.mu.Lock()
	_, known := d.files[name]
	d.mu.Unlock()
	// Other variants can only be in a file this store knows of; a file
	// another process wrote since the scan loses its variants, as a cache
	// may.
	var old *os.File
	if known {
		if old, err = os.Open(path); err == nil {
			defer old.Close()
		}
	}
	size, err := writeDiskFile(tmp, old, entry, expiry)
	if err == nil && oldSize > size {
		err = tmp.Truncate(size) // a reused spare was longer
	}
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("httpcache: disk storage: writing %s: %w", path, err)
	}
	d.mu.Lock()
	d.touch(name, size)
	victims := d.evict(d.files[name])
	d.mu.Unlock()
	d.removeFiles(victims)
	return nil
}

// tempFile returns a temporary file in dir to write from its start: a
// spare one when there is one, with its size (its content is to be
// overwritten, and cut if longer), or a new one.
func (d *DiskStorage) tempFile(dir string) (*os.File, int64, error) {
	for {
		d.mu.Lock()
		if len(d.spares) == 0 {
			d.mu.Unlock()
			f, err := d.createTemp(dir)
			return f, 0, err
		}
		spare := d.spares[len(d.spares)-1]
		d.spares = d.spares[:len(d.spares)-1]
		d.mu.Unlock()
		// Renaming claims it: of processes sharing the directory, one
		// rename succeeds; the others find it gone.
		tmp := filepath.Join(dir, diskTempPrefix+randomName())
		err := os.Rename(filepath.Join(d.dir, diskSpareDir, spare.name), tmp)
		if errors.Is(err, fs.ErrNotExist) {
			if _, statErr := os.Stat(dir); statErr != nil {
				f, err := d.createTemp(dir) // dir itself is gone
				return f, 0, err
			}
			continue // another process took it
		}
		if err != nil {
			f, err := d.createTemp(dir)
			return f, 0, err
		}
		// Not O_TRUNC: the new content overwrites the old blocks, and Set
		// truncates to the new size; freeing and allocating blocks costs
		// more than rewriting them.
		f, err := os.OpenFile(tmp, os.O_WRONLY, 0)
		if err != nil {
			os.Remove(tmp)
			f, err := d.createTemp(dir)
			return f, 0, err
		}
		// The size known when it was recycled may be out of date: another
		// process may have replaced the file with a larger one, whose body
		// a reader may be streaming. Such a file is never written to.
		info, err := f.Stat()
		if err != nil || info.Size() > maxSpareSize {
			f.Close()
			os.Remove(tmp)
			continue
		}
		return f, info.Size(), nil
	}
}

// recycle moves a file that is no longer wanted into the spare directory,
// or removes it when there are spares enough. A file that is not there is
// not an error.
//
// size is the file's size if known, or -1.
func (d *DiskStorage) recycle(path string, size int64) error {
	d.mu.Lock()
	full := len(d.spares) >= maxSpareFiles
	d.mu.Unlock()
	if !full {
		var err error
		if size < 0 {
			var info os.FileInfo
			if info, err = os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				return nil
			} else if err == nil {
				size = info.Size()
			}
		}
		name := randomName()
		if err == nil && size <= maxSpareSize && os.Rename(path, filepath.Join(d.dir, diskSpareDir, name)) == nil {
			d.mu.Lock()
			d.spares = append(d.spares, spareFile{name, size})
			d.mu.Unlock()
			return nil
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("httpcache: disk storage: %w", err)
	}
	return nil
}

func randomName() string {
	return strconv.FormatUint(rand.Uint64(), 16)
}

// createTemp creates a temporary file in dir, creating dir if it was
// removed underneath.
func (d *DiskStorage) createTemp(dir string) (*os.File, error) {
	tmp, err := os.CreateTemp(dir, diskTempPrefix+"*")
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("httpcache: disk storage: %w", err)
		}
		tmp, err = os.CreateTemp(dir, diskTempPrefix+"*")
	}
	if err != nil {
		return nil, fmt.Errorf("httpcache: disk storage: %w", err)
	}
	return tmp, nil
}

// writeDiskFile writes a key's new file to w: the variants of the current
// file old, when not nil (copied byte for byte, unexpired ones only), but
// the one being replaced; then the new record. It returns the file's size.
func writeDiskFile(w io.Writer, old *os.File, entry *Entry, expiry int64) (int64, error) {
	var size int64
	// The file's header, then the new record, in one buffer: written with
	// one call when there is no other variant to keep.
	record := make([]byte, 0, 64+entrySize(entry))
	record = append(record, diskFileMagic...)
	record = append(record, diskFileVersion)
	headerEnd := len(record)
	record = binary.BigEndian.AppendUint64(record, uint64(expiry))
	record = append(record, 0, 0, 0, 0) // the encoded length, set below
	record, err := appendEntry(record, entry)
	if err != nil {
		return 0, err
	}
	binary.BigEndian.PutUint32(record[headerEnd+8:], uint32(len(record)-headerEnd-diskRecordHeader))

	if old == nil {
		n, err := w.Write(record)
		return int64(n), err
	}
	n, err := w.Write(record[:headerEnd])
	size += int64(n)
	if err != nil {
		return size, err
	}
	if info, err := old.Stat(); err == nil {
		// A damaged old file is dropped whole: the new one replaces it.
		records, _ := readDiskRecords(old, info.Size())
		kept := 0
		now := time.Now()
		for _, r := range records {
			if r.entry.Variant == entry.Variant || r.expired(now) || kept >= maxVariantsPerKey-1 {
				continue
			}
			copied, err := io.Copy(w, io.NewSectionReader(old, r.offset, r.length))
			size += copied
			if err != nil {
				return size, err
			}
			kept++
		}
	}
	n, err = w.Write(record[headerEnd:])
	return size + int64(n), err
}

// Delete removes the key's file.
func (d *DiskStorage) Delete(_ context.Context, key string) error {
	name := fileName(key)
	d.forget(name)
	return d.recycle(filepath.Join(d.dir, name), -1)
}

// Size returns the bytes of the entry files this DiskStorage knows of.
func (d *DiskStorage) Size() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.usedBytes
}

// DeleteURL removes the files of every key of url: the key without a
// partition, and every partition's, found in the URL's subdirectory, this
// process's and other processes' alike.
func (d *DiskStorage) DeleteURL(ctx context.Context, url string) error {
	name := urlFileName(url)
	dir, base := filepath.Split(name)
	entries, err := os.ReadDir(filepath.Join(d.dir, dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("httpcache: disk storage: %w", err)
	}
	var first error
	for _, entry := range entries {
		if n := entry.Name(); n == base || strings.HasPrefix(n, base+".") {
			file := filepath.Join(dir, n)
			d.forget(file)
			if err := d.recycle(filepath.Join(d.dir, file), -1); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// PartitionSecret returns the secret generated when the store was opened
// (PartitionSecretKeeper). It is not kept in the directory, where a copy of
// the files would find it with them: processes that share the directory
// share the stored responses of requests with credentials only when each
// Transport is given the same secret (WithPartitionSecret).
func (d *DiskStorage) PartitionSecret() []byte { return d.secret }

// removeCorrupt removes a file that failed its checks, unless another
// writer has replaced it since it was opened as f.
func (d *DiskStorage) removeCorrupt(name, path string, f *os.File) {
	read, err := f.Stat()
	if now, statErr := os.Stat(path); err == nil && statErr == nil && os.SameFile(now, read) {
		os.Remove(path)
	}
	d.forget(name)
}

// touch records a file as the most recently used, with its size. d.mu is
// held.
func (d *DiskStorage) touch(name string, size int64) {
	f := d.files[name]
	if f == nil {
		f = &diskFile{name: name}
		f.node.item = f
		d.files[name] = f
	}
	d.recency.touch(&f.node)
	d.usedBytes += size - f.size
	f.size = size
}

// evict drops least recently used files from the accounting until it is
// within the bound, sparing keep, and returns them for removal outside the
// lock. d.mu is held.
func (d *DiskStorage) evict(keep *diskFile) []*diskFile {
	var keepNode *recencyNode[*diskFile]
	if keep != nil {
		keepNode = &keep.node
	}
	var victims []*diskFile
	for d.usedBytes > d.maxBytes {
		victim := d.recency.evictionVictim(keepNode)
		if victim == nil {
			break
		}
		d.drop(victim.item)
		victims = append(victims, victim.item)
	}
	return victims
}

func (d *DiskStorage) removeFiles(victims []*diskFile) {
	for _, f := range victims {
		d.recycle(filepath.Join(d.dir, f.name), f.size)
	}
}

func (d *DiskStorage) forget(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if f := d.files[name]; f != nil {
		d.drop(f)
	}
}

// drop removes a file from the accounting. d.mu is held.
func (d *DiskStorage) drop(f *diskFile) {
	d.recency.remove(&f.node)
	delete(d.files, f.name)
	d.usedBytes -= f.size
}

// diskRecord is one variant in a key's file.
type diskRecord struct {
	offset, length int64 // of the whole record in the file
	expiry         int64 // Unix nanoseconds; 0 for none
	entry          *Entry
	// Where the body is, when it was not read into entry.Body.
	bodyOffset, bodySize int64
	bodyChecksum         uint32
	// The metadata's checksum and where it is: with the body's, what a
	// body opened later checks to know the file still holds this record.
	metaChecksumAt int64
	metaChecksum   uint32
}

func (r *diskRecord) expired(now time.Time) bool {
	return r.expiry != 0 && now.UnixNano() > r.expiry
}

// readDiskRecordsWithBodies is readDiskRecords that also reads and checks
// bodies of up to diskInlineBody bytes; larger ones are left in the file
// (Entry.Body nil, the record saying where).
func readDiskRecordsWithBodies(f io.ReaderAt, size int64) ([]diskRecord, error) {
	records, err := readDiskRecords(f, size)
	if err != nil {
		return nil, err
	}
	for i := range records {
		if err := records[i].readInlineBody(f); err != nil {
			return nil, err
		}
	}
	return records, nil
}

// readDiskRecords reads the records of a key's file, without their bodies.
// Any damage is an error wrapping ErrCorruptEntry.
func readDiskRecords(f io.ReaderAt, size int64) ([]diskRecord, error) {
	var header [len(diskFileMagic) + 1]byte
	if _, err := f.ReadAt(header[:], 0); err != nil || string(header[:3]) != diskFileMagic || header[3] != diskFileVersion {
		return nil, fmt.Errorf("%w: not an entry file", ErrCorruptEntry)
	}
	var records []diskRecord
	for offset := int64(len(header)); offset < size; {
		r, err := readDiskRecord(f, offset, size)
		if err != nil {
			return nil, err
		}
		records = append(records, r)
		offset += r.length
		if len(records) > maxVariantsPerKey {
			return nil, fmt.Errorf("%w: too many variants", ErrCorruptEntry)
		}
	}
	return records, nil
}

func readDiskRecord(f io.ReaderAt, offset, fileSize int64) (diskRecord, error) {
	corrupt := func(what string) (diskRecord, error) {
		return diskRecord{}, fmt.Errorf("%w: %s at offset %d", ErrCorruptEntry, what, offset)
	}
	var header [diskRecordHeader + entryPrefixSize]byte
	if _, err := f.ReadAt(header[:], offset); err != nil {
		return corrupt("short record header")
	}
	r := diskRecord{offset: offset, expiry: int64(binary.BigEndian.Uint64(header[:8]))}
	encodedLen := int64(binary.BigEndian.Uint32(header[8:12]))
	r.length = diskRecordHeader + encodedLen
	if offset+r.length > fileSize {
		return corrupt("record past the end of the file")
	}
	metaLen := int64(binary.BigEndian.Uint32(header[diskRecordHeader+4:]))
	if metaLen > maxEncodedMeta || entryPrefixSize+metaLen+checksumSize > encodedLen {
		return corrupt("metadata length out of range")
	}
	encodedStart := offset + diskRecordHeader
	prefixAndMeta := make([]byte, entryPrefixSize+metaLen+checksumSize)
	if _, err := f.ReadAt(prefixAndMeta, encodedStart); err != nil {
		return corrupt("short metadata")
	}
	entry, bodyLen, bodyStart, err := decodeEntryMeta(prefixAndMeta)
	if err != nil {
		return diskRecord{}, err
	}
	if int64(bodyStart)+bodyLen+checksumSize != encodedLen {
		return corrupt("body length does not match the record")
	}
	r.entry, r.bodyOffset, r.bodySize = entry, encodedStart+int64(bodyStart), bodyLen
	r.metaChecksumAt = encodedStart + int64(bodyStart) - checksumSize
	r.metaChecksum = binary.BigEndian.Uint32(prefixAndMeta[bodyStart-checksumSize:])
	var sum [checksumSize]byte
	if _, err := f.ReadAt(sum[:], r.bodyOffset+bodyLen); err != nil {
		return corrupt("short body checksum")
	}
	r.bodyChecksum = binary.BigEndian.Uint32(sum[:])
	return r, nil
}

// readInlineBody reads and checks the record's body when it is no larger
// than diskInlineBody, and sets it as the entry's Body.
func (r *diskRecord) readInlineBody(f io.ReaderAt) error {
	if r.bodySize > diskInlineBody {
		return nil
	}
	body := make([]byte, r.bodySize)
	if _, err := f.ReadAt(body, r.bodyOffset); err != nil {
		return fmt.Errorf("%w: short body at offset %d", ErrCorruptEntry, r.offset)
	}
	if crc32.Checksum(body, castagnoli) != r.bodyChecksum {
		return fmt.Errorf("%w: body checksum mismatch at offset %d", ErrCorruptEntry, r.offset)
	}
	r.entry.Body = BytesBody(body)
	return nil
}

// diskBody is a body left in its file. Open checks that the file is still
// the one read: the same file, holding the same record (an inode number
// can be reused for a new file once the old one is removed), and its
// reader checks the body's checksum at the end: a mismatch is a read
// error, never a clean end. Files with such bodies are never rewritten in
// place (see maxSpareSize), so once open, the content cannot change.
type diskBody struct {
	path           string
	info           os.FileInfo
	offset         int64
	size           int64
	checksum       uint32
	metaChecksumAt int64
	metaChecksum   uint32
}

func (b *diskBody) Size() int64 { return b.size }

func (b *diskBody) Open() (io.ReadCloser, error) {
	f, err := os.Open(b.path)
	if err != nil {
		return nil, fmt.Errorf("httpcache: disk storage: %w", err)
	}
	if !b.sameRecord(f) {
		f.Close()
		return nil, fmt.Errorf("%w: the file was replaced", ErrCorruptEntry)
	}
	return &checkedReader{section: io.NewSectionReader(f, b.offset, b.size), file: f,
		hash: crc32.New(castagnoli), want: b.checksum}, nil
}

// sameRecord reports whether the open file is the one the body was found
// in, still holding its record.
func (b *diskBody) sameRecord(f *os.File) bool {
	info, err := f.Stat()
	if err != nil || !os.SameFile(info, b.info) || info.Size() != b.info.Size() {
		return false
	}
	var sum [checksumSize]byte
	if _, err := f.ReadAt(sum[:], b.metaChecksumAt); err != nil || binary.BigEndian.Uint32(sum[:]) != b.metaChecksum {
		return false
	}
	_, err = f.ReadAt(sum[:], b.offset+b.size)
	return err == nil && binary.BigEndian.Uint32(sum[:]) == b.checksum
}

// checkedReader reads a body section and verifies its CRC-32C at the end.
type checkedReader struct {
	section *io.SectionReader
	file    *os.File
	hash    hash.Hash32
	want    uint32
}

func (r *checkedReader) Read(p []byte) (int, error) {
	n, err := r.section.Read(p)
	r.hash.Write(p[:n])
	if err == io.EOF && r.hash.Sum32() != r.want {
		return n, fmt.Errorf("%w: body checksum mismatch", ErrCorruptEntry)
	}
	return n, err
}

func (r *checkedReader) Close() error { return r.file.Close() }

// Local reports true: a DiskStorage's calls read and write local files,
// which a context could not interrupt (LocalStorage).
func (d *DiskStorage) Local() bool { return true }

var _ LocalStorage = (*DiskStorage)(nil)
