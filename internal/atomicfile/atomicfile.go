// Package atomicfile replaces files so that a crash leaves either the old
// file or the whole new one.
package atomicfile

import (
	"errors"
	"os"
)

// Write writes path through fill into path+".tmp", fsyncs it, and renames
// it over path. On any error the temporary file is removed and path is
// left as it was.
func Write(path string, fill func(f *os.File) error) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	err = fill(f)
	if err == nil {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close())
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}
