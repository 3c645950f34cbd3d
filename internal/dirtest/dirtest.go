// Package dirtest helps tests check what code did to a directory.
package dirtest

import (
	"os"
	"path/filepath"
	"testing"
)

// Image returns every file of dir by name, with its bytes, so that a test
// can compare the directory before and after (maps.Equal).
func Image(t testing.TB, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}
