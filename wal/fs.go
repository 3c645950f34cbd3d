package wal

import (
	"errors"
	"syscall"

	"github.com/meerkat-zk/meerkat/wal/walfs"
)

// FS is the file system the WAL uses; see package walfs.
type FS = walfs.FS

// File is an open file of an FS.
type File = walfs.File

// OSFS is the operating system's file system.
var OSFS = walfs.OS

// isNoSpace reports whether err is the disk being full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
