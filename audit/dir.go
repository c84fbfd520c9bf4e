package audit

import (
	"crypto"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/mod/sumdb/tlog"
)

// DirStore is the log format of airlock's first release, one folder per
// log:
//
//	entries      the records, each a 4-byte big-endian length and the
//	             record bytes, appended and fsynced one at a time
//	hashes       the tlog stored hashes, 32 bytes each, in
//	             StoredHashIndex order (derivable; kept to prove quickly)
//	checkpoints  every signed checkpoint, each a 4-byte length and the note
//	lock         an advisory lock: one writer at a time
//
// Workspaces now keep their log in their SQL store, in the transaction of
// the state change each entry describes (package store); DirStore remains
// to read and verify a first-release log when its workspace is migrated,
// and as a second Store the tests hold the Log to.
type DirStore struct {
	dir     string
	lock    *os.File
	entries *os.File
	hashes  *os.File
	offsets []int64 // record offsets in entries
}

// Open opens (creating if missing) a log in the folder format of DirStore.
func Open(dir, origin string, key crypto.Signer) (*Log, error) {
	st, err := OpenDir(dir)
	if err != nil {
		return nil, err
	}
	l, err := New(st, origin, key)
	if err != nil {
		st.Close()
		return nil, err
	}
	return l, nil
}

// OpenDir opens (creating if missing) the log folder dir, holding its lock
// until Close.
func OpenDir(dir string) (*DirStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: %v", err)
	}
	d := &DirStore{dir: dir}
	var err error
	if d.lock, err = os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600); err != nil {
		return nil, fmt.Errorf("audit: %v", err)
	}
	if err := syscall.Flock(int(d.lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		d.lock.Close()
		return nil, fmt.Errorf("audit: %s is locked by another process: %v", dir, err)
	}
	if d.entries, err = os.OpenFile(filepath.Join(dir, "entries"), os.O_CREATE|os.O_RDWR, 0o600); err != nil {
		d.Close()
		return nil, fmt.Errorf("audit: %v", err)
	}
	if d.hashes, err = os.OpenFile(filepath.Join(dir, "hashes"), os.O_CREATE|os.O_RDWR, 0o600); err != nil {
		d.Close()
		return nil, fmt.Errorf("audit: %v", err)
	}
	if err := d.scan(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// scan indexes the records and checks the hashes file's length.
func (d *DirStore) scan() error {
	data, err := io.ReadAll(io.NewSectionReader(d.entries, 0, 1<<40))
	if err != nil {
		return fmt.Errorf("audit: %v", err)
	}
	for off := int64(0); off < int64(len(data)); {
		if int64(len(data))-off < 4 {
			return fmt.Errorf("%w: torn record header at byte %d of %s", ErrTampered, off, d.entries.Name())
		}
		n := int64(binary.BigEndian.Uint32(data[off:]))
		if n == 0 || n > MaxRecord || off+4+n > int64(len(data)) {
			return fmt.Errorf("%w: torn or oversize record at byte %d of %s", ErrTampered, off, d.entries.Name())
		}
		d.offsets = append(d.offsets, off)
		off += 4 + n
	}
	fi, err := d.hashes.Stat()
	if err != nil {
		return fmt.Errorf("audit: %v", err)
	}
	if want := tlog.StoredHashCount(int64(len(d.offsets))) * tlog.HashSize; fi.Size() != want {
		return fmt.Errorf("%w: hashes file holds %d bytes, %d entries need %d", ErrTampered, fi.Size(), len(d.offsets), want)
	}
	return nil
}

// Close releases the folder.
func (d *DirStore) Close() error {
	for _, f := range []*os.File{d.entries, d.hashes} {
		if f != nil {
			f.Close()
		}
	}
	if d.lock != nil {
		syscall.Flock(int(d.lock.Fd()), syscall.LOCK_UN)
		d.lock.Close()
	}
	return nil
}

// Size implements Store.
func (d *DirStore) Size() (int64, error) { return int64(len(d.offsets)), nil }

// ReadHashes implements tlog.HashReader.
func (d *DirStore) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		if _, err := d.hashes.ReadAt(out[i][:], idx*tlog.HashSize); err != nil {
			return nil, fmt.Errorf("audit: read hash %d: %v", idx, err)
		}
	}
	return out, nil
}

// Record implements Store.
func (d *DirStore) Record(i int64) ([]byte, error) {
	if i < 0 || i >= int64(len(d.offsets)) {
		return nil, fmt.Errorf("audit: no entry %d in a log of %d", i, len(d.offsets))
	}
	var hdr [4]byte
	if _, err := d.entries.ReadAt(hdr[:], d.offsets[i]); err != nil {
		return nil, fmt.Errorf("audit: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := d.entries.ReadAt(b, d.offsets[i]+4); err != nil {
		return nil, fmt.Errorf("audit: %v", err)
	}
	return b, nil
}

// Append implements Store: the record is synced before the hashes, and the
// hashes before Append returns; a crash in between leaves a hashes file
// that OpenDir reports.
func (d *DirStore) Append(n int64, rec []byte, hs []tlog.Hash) error {
	if n != int64(len(d.offsets)) {
		return fmt.Errorf("audit: append at %d to a log of %d", n, len(d.offsets))
	}
	end, err := d.entries.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("audit: %v", err)
	}
	buf := make([]byte, 4+len(rec))
	binary.BigEndian.PutUint32(buf, uint32(len(rec)))
	copy(buf[4:], rec)
	if _, err := d.entries.WriteAt(buf, end); err != nil {
		d.entries.Truncate(end)
		return fmt.Errorf("audit: %v", err)
	}
	if err := d.entries.Sync(); err != nil {
		return fmt.Errorf("audit: %v", err)
	}
	hb := make([]byte, 0, len(hs)*tlog.HashSize)
	for _, h := range hs {
		hb = append(hb, h[:]...)
	}
	if _, err := d.hashes.WriteAt(hb, tlog.StoredHashIndex(0, n)*tlog.HashSize); err != nil {
		return fmt.Errorf("audit: %v", err)
	}
	if err := d.hashes.Sync(); err != nil {
		return fmt.Errorf("audit: %v", err)
	}
	d.offsets = append(d.offsets, end)
	return nil
}

// AddCheckpoint implements Store.
func (d *DirStore) AddCheckpoint(_ int64, signed []byte) error {
	f, err := os.OpenFile(filepath.Join(d.dir, "checkpoints"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("audit: %v", err)
	}
	defer f.Close()
	buf := make([]byte, 4+len(signed))
	binary.BigEndian.PutUint32(buf, uint32(len(signed)))
	copy(buf[4:], signed)
	if _, err := f.Write(buf); err != nil {
		return fmt.Errorf("audit: %v", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("audit: %v", err)
	}
	return nil
}

// Checkpoints returns every stored checkpoint, oldest first.
func (d *DirStore) Checkpoints() ([][]byte, error) {
	data, err := os.ReadFile(filepath.Join(d.dir, "checkpoints"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: %v", err)
	}
	var out [][]byte
	for off := 0; off < len(data); {
		if len(data)-off < 4 {
			return nil, fmt.Errorf("%w: torn checkpoint", ErrTampered)
		}
		n := int(binary.BigEndian.Uint32(data[off:]))
		if n > maxCheckpoint || off+4+n > len(data) {
			return nil, fmt.Errorf("%w: torn checkpoint", ErrTampered)
		}
		out = append(out, data[off+4:off+4+n])
		off += 4 + n
	}
	return out, nil
}

// LatestCheckpoint implements Store.
func (d *DirStore) LatestCheckpoint() ([]byte, error) {
	cps, err := d.Checkpoints()
	if err != nil {
		return nil, err
	}
	if len(cps) == 0 {
		return nil, ErrNoCheckpoint
	}
	return cps[len(cps)-1], nil
}
