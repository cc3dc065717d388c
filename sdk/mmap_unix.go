//go:build unix && (amd64 || arm64 || 386 || arm || riscv64 || loong64 || ppc64le || mips64le || mipsle)

package sdk

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"unsafe"
)

// mapTokens memory-maps a token file of n little-endian uint32 ids. On a
// little-endian machine the file bytes are the []int32 in memory, so the
// host trains straight from the page cache.
func mapTokens(name string, n int64) (Tokens, func() error, error) {
	if n == 0 {
		return Tokens{}, func() error { return nil }, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if fi.Size() != n*4 {
		return nil, nil, fmt.Errorf("%s: %d bytes, want %d", filepath.Base(name), fi.Size(), n*4)
	}
	if int64(int(fi.Size())) != fi.Size() {
		t, err := readTokens(name, n)
		return t, func() error { return nil }, err
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		// Some file systems cannot map; read instead.
		t, err := readTokens(name, n)
		return t, func() error { return nil }, err
	}
	toks := unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(b))), n)
	return toks, func() error { return syscall.Munmap(b) }, nil
}
