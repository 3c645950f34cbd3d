// Package walfs holds the file systems the write-ahead log (package wal)
// writes through: the operating system's (OS), and Faulty, which wraps
// another to make it fail as a full or broken disk does, for tests of
// every layer above the log.
package walfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// FS is the file system the WAL writes through.
type FS interface {
	// OpenFile opens a file as os.OpenFile does.
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// Rename renames a file.
	Rename(from, to string) error
	// Remove removes a file.
	Remove(name string) error
	// ReadDir lists a directory.
	ReadDir(dir string) ([]fs.DirEntry, error)
	// MkdirAll creates a directory and its parents.
	MkdirAll(dir string, perm fs.FileMode) error
	// SyncDir makes a directory's entries durable.
	SyncDir(dir string) error
}

// File is an open file of an FS.
type File interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	// Sync makes the file's data durable (fdatasync).
	Sync() error
	// Allocate reserves size bytes for the file (fallocate).
	Allocate(size int64) error
	Truncate(size int64) error
	Size() (int64, error)
	Close() error
}

// OS is the operating system's file system.
var OS FS = osFS{}

type osFS struct{}

type osFile struct{ f *os.File }

func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Rename(from, to string) error                { return os.Rename(from, to) }
func (osFS) Remove(name string) error                    { return os.Remove(name) }
func (osFS) ReadDir(dir string) ([]fs.DirEntry, error)   { return os.ReadDir(dir) }
func (osFS) MkdirAll(dir string, perm fs.FileMode) error { return os.MkdirAll(dir, perm) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (f osFile) ReadAt(p []byte, off int64) (int, error)  { return f.f.ReadAt(p, off) }
func (f osFile) WriteAt(p []byte, off int64) (int, error) { return f.f.WriteAt(p, off) }
func (f osFile) Truncate(size int64) error                { return f.f.Truncate(size) }
func (f osFile) Close() error                             { return f.f.Close() }

func (f osFile) Sync() error {
	for {
		err := unix.Fdatasync(int(f.f.Fd()))
		if err != unix.EINTR {
			return err
		}
	}
}

func (f osFile) Allocate(size int64) error {
	for {
		err := unix.Fallocate(int(f.f.Fd()), 0, 0, size)
		switch {
		case err == unix.EINTR:
			continue
		case errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS):
			// Not every file system can reserve space; zeros written by
			// Truncate read the same, only without the reservation.
			return f.f.Truncate(size)
		}
		return err
	}
}

func (f osFile) Size() (int64, error) {
	st, err := f.f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}
