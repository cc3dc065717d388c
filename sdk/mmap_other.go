//go:build !(unix && (amd64 || arm64 || 386 || arm || riscv64 || loong64 || ppc64le || mips64le || mipsle))

package sdk

// mapTokens reads a token file of n little-endian uint32 ids into memory:
// this platform has no mmap, or is big-endian.
func mapTokens(name string, n int64) (Tokens, func() error, error) {
	t, err := readTokens(name, n)
	return t, func() error { return nil }, err
}
