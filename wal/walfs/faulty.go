package walfs

import (
	"io/fs"
	"sync"
	"syscall"
)

// Faulty wraps a file system and fails it on demand, as a real disk fails:
// while full, a write takes half of its bytes and then fails with ENOSPC,
// and preallocation fails with ENOSPC; while broken, fdatasync fails with
// EIO. Safe for concurrent use.
type Faulty struct {
	FS
	mu     sync.Mutex
	full   bool
	broken bool
}

// NewFaulty returns a Faulty over fsys, working until told otherwise.
func NewFaulty(fsys FS) *Faulty { return &Faulty{FS: fsys} }

// SetFull makes the disk full, or gives the space back.
func (f *Faulty) SetFull(full bool) {
	f.mu.Lock()
	f.full = full
	f.mu.Unlock()
}

// SetBroken makes every fdatasync fail, or succeed again.
func (f *Faulty) SetBroken(broken bool) {
	f.mu.Lock()
	f.broken = broken
	f.mu.Unlock()
}

func (f *Faulty) state() (full, broken bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.full, f.broken
}

// OpenFile implements FS.
func (f *Faulty) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultyFile{File: file, fs: f}, nil
}

type faultyFile struct {
	File
	fs *Faulty
}

func (f *faultyFile) WriteAt(p []byte, off int64) (int, error) {
	if full, _ := f.fs.state(); full {
		n, _ := f.File.WriteAt(p[:len(p)/2], off)
		return n, &fs.PathError{Op: "write", Path: "segment", Err: syscall.ENOSPC}
	}
	return f.File.WriteAt(p, off)
}

func (f *faultyFile) Allocate(size int64) error {
	if full, _ := f.fs.state(); full {
		return syscall.ENOSPC
	}
	return f.File.Allocate(size)
}

func (f *faultyFile) Sync() error {
	if _, broken := f.fs.state(); broken {
		return syscall.EIO
	}
	return f.File.Sync()
}
