package sdk

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// InputFiles expands Prepare's inputs into a sorted list of files: a file is
// taken as it is (whatever its suffix); a directory is walked and every
// regular file whose name ends in one of suffixes (case-insensitive; none
// means every file) is taken, in lexical order, skipping hidden files and
// directories. The order is the same on every machine, so documents get the
// same indices and the dataset the same split.
//
// Errors name the path: a path that does not exist, an input that is not
// a regular file or directory (a named pipe, a device: RegularFile), a
// directory with no matching file, or no inputs at all. Symbolic links to files are taken;
// an input that is a link to a directory is walked like the directory (its files named under
// the link: data/music/a.flac); links to directories inside a directory are not followed.
func InputFiles(inputs []string, suffixes []string) ([]string, error) {
	if len(inputs) == 0 {
		return nil, errors.New("no input files given")
	}
	var files []string
	for _, in := range inputs {
		fi, err := os.Stat(in)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", in, unwrapPath(err))
		}
		if !fi.IsDir() {
			if _, err := RegularFile(in); err != nil {
				return nil, err
			}
			files = append(files, in)
			continue
		}
		n := len(files)
		root := in // a link to a directory is walked at its target, its files named under the link
		if li, err := os.Lstat(in); err == nil && li.Mode()&fs.ModeSymlink != 0 {
			if root, err = filepath.EvalSymlinks(in); err != nil {
				return nil, fmt.Errorf("%s: %w", in, unwrapPath(err))
			}
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			top := p == root
			if root != in {
				rel, rerr := filepath.Rel(root, p)
				if rerr != nil {
					return rerr
				}
				p = filepath.Join(in, rel)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", p, unwrapPath(err))
			}
			if !top && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			regular := d.Type().IsRegular()
			if d.Type()&fs.ModeSymlink != 0 {
				// A link to a file counts; links to directories are not
				// followed (no loops).
				fi, err := os.Stat(p)
				regular = err == nil && fi.Mode().IsRegular()
			}
			if regular && matchSuffix(d.Name(), suffixes) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(files) == n {
			if len(suffixes) > 0 {
				return nil, fmt.Errorf("%s: directory has no readable file ending in %s", in, strings.Join(suffixes, ", "))
			}
			return nil, fmt.Errorf("%s: directory has no readable file", in)
		}
		slices.Sort(files[n:])
	}
	return files, nil
}

func matchSuffix(name string, suffixes []string) bool {
	if len(suffixes) == 0 {
		return true
	}
	name = strings.ToLower(name)
	for _, s := range suffixes {
		if strings.HasSuffix(name, strings.ToLower(s)) {
			return true
		}
	}
	return false
}

// unwrapPath drops the *fs.PathError wrapper, whose path the caller already
// prints, so the message names the file once.
func unwrapPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

// RegularFile returns the FileInfo of name (following symbolic links), or
// an error naming the path and what it is when it is not a regular file: a
// named pipe, a device such as /dev/zero or a socket would block a reader
// or never end, and a directory is not a file. Every input the SDK and the
// host read by name passes through it.
func RegularFile(name string) (fs.FileInfo, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, unwrapPath(err))
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: is %s, not a regular file; save the data to a file first", name, fileKind(fi.Mode()))
	}
	return fi, nil
}

// fileKind names the kind of file of a mode that is not regular.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "not a plain file (mode " + m.String() + ")"
}

// OpenInput opens a regular file for reading; anything else is refused
// before it is opened (opening a named pipe blocks until a writer comes).
func OpenInput(name string) (*os.File, error) {
	if _, err := RegularFile(name); err != nil {
		return nil, err
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, unwrapPath(err))
	}
	// The path may have been replaced between the check and the open.
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: changed while being opened; not a regular file now", name)
	}
	return f, nil
}

// ReadInput reads a whole regular file of at most limit bytes (see
// MaxFileBytes, MaxEncodeBytes). A larger file is refused, with both sizes,
// before any of it is read.
func ReadInput(name string, limit int64) ([]byte, error) {
	f, err := OpenInput(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, unwrapPath(err))
	}
	if fi.Size() > limit {
		return nil, &TooLargeError{Name: name, Size: fi.Size(), Limit: limit}
	}
	// Read at most limit+1 bytes: a file that grows while it is read
	// fails instead of growing the buffer without bound.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, unwrapPath(err))
	}
	if int64(len(data)) > limit {
		return nil, &TooLargeError{Name: name, Size: int64(len(data)), Limit: limit}
	}
	return data, nil
}

// TooLargeError is ReadInput's error for a file over its limit.
type TooLargeError struct {
	Name        string
	Size, Limit int64 // bytes; Size is a lower bound for a growing file
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s: %s is more than the %s this reads at once", e.Name, byteSize(e.Size), byteSize(e.Limit))
}

// byteSize writes n bytes for people: "100.0 MiB (104857600 bytes)".
func byteSize(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%.1f MiB (%d bytes)", float64(n)/(1<<20), n)
}
