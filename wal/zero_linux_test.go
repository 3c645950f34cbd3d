package wal

import (
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// extent is one entry of the FS_IOC_FIEMAP ioctl's answer.
type extent struct {
	logical, physical, length uint64
	_                         [2]uint64
	flags                     uint32
	_                         [3]uint32
}

const (
	fsIocFiemap     = 0xc020660b // _IOWR('f', 11, struct fiemap)
	fiemapFlagSync  = 0x1
	extentUnwritten = 0x800
	maxExtents      = 64
)

// extents maps a file's blocks with FIEMAP, syncing it first.
func extents(t *testing.T, path string) []extent {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var req struct {
		start, length           uint64
		flags, mapped, count, _ uint32
		exts                    [maxExtents]extent
	}
	req.length, req.flags, req.count = ^uint64(0), fiemapFlagSync, maxExtents
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fsIocFiemap, uintptr(unsafe.Pointer(&req))); errno != 0 {
		t.Fatalf("FIEMAP on %s: %v", path, errno)
	}
	return req.exts[:req.mapped]
}

// TestSyncedAppendsLandOnWrittenBlocks checks, on the real file system of
// the test's temporary directory, that a record and the half chunk after
// it never sit on blocks fallocate left unwritten: the first write into
// such a block changes the extent map, and the fdatasync after it would
// then write the inode as well as the data.
func TestSyncedAppendsLandOnWrittenBlocks(t *testing.T) {
	dir := t.TempDir()
	opts := quiet()
	opts.SegmentSize = 8 << 20
	w, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	payload := make([]byte, 3000)
	for i := uint64(1); i <= 300; i++ {
		if err := w.Append(i, payload); err != nil {
			t.Fatal(err)
		}
	}
	end := w.tail().end
	path := filepath.Join(dir, w.tail().name)
	exts := extents(t, path)
	var unwrittenAfter bool
	for _, e := range exts {
		if e.flags&extentUnwritten == 0 {
			continue
		}
		if int64(e.logical) < end+zeroChunk/2 {
			t.Fatalf("blocks %d..%d of the segment are still unwritten; the tail is at %d", e.logical, e.logical+e.length, end)
		}
		unwrittenAfter = true
	}
	if !unwrittenAfter {
		// The check above means something only where fallocate leaves
		// unwritten extents, as ext4 and xfs do.
		t.Skipf("the file system of %s reports no unwritten extents after fallocate: %+v", dir, exts)
	}
}
