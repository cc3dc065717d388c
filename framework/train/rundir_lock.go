package train

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mambakit/mambakit/internal/atomicfile"
)

// LockFile is the file in a run directory whose advisory lock marks the
// process that owns the directory (its PID is written in it).
const LockFile = ".lock"

// ErrRunBusy is wrapped by LockRunDir's error when another process owns
// the run directory.
var ErrRunBusy = errors.New("run directory in use")

// held counts this process's locks per run directory: a directory's lock
// is re-entrant within the process (the CLI takes it before preparing the
// data, Start and Resume take it again) and exclusive across processes.
var held = struct {
	sync.Mutex
	dirs map[string]*runLock
}{dirs: map[string]*runLock{}}

type runLock struct {
	f    *os.File
	refs int
	// created are the directories the first lock created (the run
	// directory, then any parents it lacked), removed again at the last
	// release while they hold nothing (removeEmpty).
	created []string
}

// LockRunDir makes this process the owner of the run directory dir
// (created if missing) before anything is written there: it takes an
// advisory lock (flock) on dir/.lock, released by the returned function or
// when the process ends, however it ends, and removes the temporary files
// a killed owner left. A second process is refused at
// once with ErrRunBusy and the owner's PID. Where flock is not available
// (not Unix) the directory is not locked.
func LockRunDir(dir string) (release func(), err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	held.Lock()
	defer held.Unlock()
	if l, ok := held.dirs[abs]; ok {
		l.refs++
		return releaser(abs, l), nil
	}
	var created []string
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || d == filepath.Dir(d) {
			break
		}
		created = append(created, d)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	path := filepath.Join(abs, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		removeEmpty(created, "")
		return nil, fmt.Errorf("lock run directory: %w", err)
	}
	if err := flock(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("%s: %w by process %s", dir, ErrRunBusy, lockHolder(path))
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// The owner's PID, for the message a second process gets.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	// Temporary files of an owner killed before its renames (config.yaml,
	// checkpoints/latest, a sample): nobody else writes here now.
	for _, d := range []string{abs, filepath.Join(abs, checkpointsDir), filepath.Join(abs, "samples")} {
		atomicfile.RemoveStale(d)
	}
	l := &runLock{f: f, refs: 1, created: created}
	held.dirs[abs] = l
	return releaser(abs, l), nil
}

func releaser(abs string, l *runLock) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			held.Lock()
			defer held.Unlock()
			if l.refs--; l.refs == 0 {
				delete(held.dirs, abs)
				if len(l.created) > 0 && onlyEmptyDirs(abs, LockFile) {
					os.Remove(filepath.Join(abs, LockFile)) // still locked: no one else writes meanwhile
				}
				l.f.Close() // closing the descriptor releases the lock
				removeEmpty(l.created, abs)
			}
		})
	}
}

// onlyEmptyDirs reports whether dir holds nothing but the file skip and
// directories that hold nothing.
func onlyEmptyDirs(dir, skip string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if e.Name() == skip {
			continue
		}
		if !e.IsDir() || !onlyEmptyDirs(filepath.Join(dir, e.Name()), "") {
			return false
		}
	}
	return true
}

// removeEmpty removes the empty directories under run (the run directory,
// created[0]), then the directories a lock created, innermost first. It
// removes only with os.Remove, which refuses a directory that holds
// anything: no file is ever removed, whatever was written meanwhile.
func removeEmpty(created []string, run string) {
	if len(created) == 0 {
		return
	}
	if run != "" {
		removeEmptyTree(run)
	}
	for _, d := range created {
		if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return
		}
	}
}

func removeEmptyTree(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.IsDir() {
			removeEmptyTree(filepath.Join(dir, e.Name()))
		}
	}
	os.Remove(dir)
}

// lockHolder reads the PID the owner wrote. The owner empties the file
// and then writes its PID just after taking the lock, so a reader that
// comes between the two finds it empty: it looks again for a moment (the
// fault campaign's two resumes at once saw "process (unknown)").
func lockHolder(path string) string {
	for try := 0; try < 20; try++ {
		b, err := os.ReadFile(path)
		if pid := strings.TrimSpace(string(b)); err == nil && pid != "" {
			return pid
		}
		time.Sleep(5 * time.Millisecond)
	}
	return "(unknown)"
}

// ClaimNewRunDir makes this process the owner of dir for a new run
// (LockRunDir) and refuses a directory that already holds one
// (ErrRunExists), before anything is written there: the caller prepares
// the run's data only after this.
func ClaimNewRunDir(dir string) (release func(), err error) {
	release, err = LockRunDir(dir)
	if err != nil {
		return nil, err
	}
	if _, err := LatestCheckpoint(dir); err == nil {
		release()
		return nil, fmt.Errorf("%s %w: resume it, or choose another run directory", dir, ErrRunExists)
	}
	return release, nil
}
