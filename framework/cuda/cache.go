package cuda

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
)

// EnvCache names the environment variable that moves the compiled-kernel
// cache (a folder), or turns it off ("off").
const EnvCache = "MAMBAKIT_CUDA_CACHE"

// cacheDir returns the folder for compiled kernels:
// $MAMBAKIT_CUDA_CACHE, else os.UserCacheDir()/mambakit/cuda; "" when the
// cache is off or there is no cache folder.
func cacheDir(env func(string) string) string {
	switch v := env(EnvCache); v {
	case "off", "0", "none":
		return ""
	case "":
		d, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(d, "mambakit", "cuda")
	default:
		return v
	}
}

// cacheKey is the hex sha256 of everything that decides the compiled
// image: source, options, architecture and compiler version.
func cacheKey(src string, opts []string, arch, compiler string) string {
	h := sha256.New()
	for _, s := range []string{"mambakit-cuda-v1", compiler, arch, strings.Join(opts, "\x00"), src} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func cachePath(dir, key string) string { return filepath.Join(dir, key+".cubin") }

// cacheLoad returns the cached image for key, if any.
func cacheLoad(dir, key string) ([]byte, bool) {
	if dir == "" {
		return nil, false
	}
	b, err := os.ReadFile(cachePath(dir, key))
	if err != nil || len(b) == 0 {
		return nil, false
	}
	return b, true
}

// cacheStore writes the image atomically (a temporary file renamed into
// place), so concurrent processes never read half a file.
func cacheStore(dir, key string, image []byte) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, key+".tmp*")
	if err != nil {
		return err
	}
	if _, err := f.Write(image); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), cachePath(dir, key)); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}
