package sdk

import (
	"errors"
	"fmt"
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
// Errors name the path: a path that does not exist, a directory with no
// matching file, or no inputs at all. Symbolic links to files are taken;
// links to directories inside a directory are not followed.
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
			files = append(files, in)
			continue
		}
		n := len(files)
		err = filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("%s: %w", p, unwrapPath(err))
			}
			if p != in && strings.HasPrefix(d.Name(), ".") {
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
