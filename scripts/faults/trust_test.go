//go:build faults && linux

package faults

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

var (
	proteinOnce sync.Once
	proteinBin  string
	proteinErr  error
)

// protein builds the example plugin examples/plugins/protein once.
func protein(t *testing.T) string {
	t.Helper()
	proteinOnce.Do(func() {
		proteinBin = filepath.Join(tmp, "bin", "protein")
		c := exec.Command("go", "build", "-o", proteinBin, "./examples/plugins/protein")
		c.Dir, c.Env = root, append(os.Environ(), "CGO_ENABLED=0")
		if out, err := c.CombinedOutput(); err != nil {
			proteinErr = fmt.Errorf("go build ./examples/plugins/protein: %v\n%s", err, out)
		}
	})
	if proteinErr != nil {
		t.Fatal(proteinErr)
	}
	return proteinBin
}

// impostor writes an executable script at path that leaves marker and then
// runs then (or fails when then is empty): if it ran, marker exists.
func impostor(t *testing.T, path, marker, then string) {
	t.Helper()
	s := "#!/bin/sh\n: > '" + marker + "'\n"
	if then != "" {
		s += "exec " + then + " \"$@\"\n"
	} else {
		s += "exit 1\n"
	}
	if err := os.WriteFile(path, []byte(s), 0o755); err != nil {
		t.Fatal(err)
	}
}

func ran(marker string) bool {
	_, err := os.Stat(marker)
	return err == nil
}

// TestPluginTrust: a plugin runs only as trusted (issue 17, S1–S3). A
// pinned plugin swapped for another program in a loop while commands run:
// a command runs the pinned bytes or refuses by checksum, and the other
// program never runs. The current directory's plugins, an unpinned plugin
// standing in for a built-in, an unpinned plugin once plugins.lock exists:
// none runs.
func TestPluginTrust(t *testing.T) {
	fa := filepath.Join(root, "examples", "plugins", "protein", "testdata", "ubiquitin.fa")
	// pinned sets up a plugin directory with the protein plugin pinned in
	// d/plugins.lock.
	pinned := func(t *testing.T, d string) (pdir, lock string) {
		pdir = filepath.Join(d, "plugins")
		os.MkdirAll(pdir, 0o755)
		good, err := os.ReadFile(protein(t))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(pdir, "mambakit-plugin-protein"), good, 0o755)
		lock = filepath.Join(d, "plugins.lock")
		ok(t, mk(t, d, "plugins", "lock", "--plugin-dir", pdir, "--lock", lock))
		return pdir, lock
	}

	try(t, classTrust, "swap race against plugins.lock (S1)", func(t *testing.T) {
		d := dir(t)
		pdir, lock := pinned(t, d)
		bin := filepath.Join(pdir, "mambakit-plugin-protein")
		good, _ := os.ReadFile(bin)
		marker := filepath.Join(d, "impostor-ran")
		stash := filepath.Join(d, "stash")
		os.Mkdir(stash, 0o755)
		real := filepath.Join(stash, "real")
		os.WriteFile(real, good, 0o755)
		evilPath := filepath.Join(stash, "evil")
		impostor(t, evilPath, marker, real)
		evil, _ := os.ReadFile(evilPath)
		var stop atomic.Bool
		var swaps atomic.Int64
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // rename the plugin and the impostor into place, as fast as that goes
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				src, data := filepath.Join(stash, "g"), good
				if i%2 == 1 {
					src, data = filepath.Join(stash, "e"), evil
				}
				if os.WriteFile(src, data, 0o755) != nil || os.Rename(src, bin) != nil {
					return
				}
				swaps.Add(1)
			}
		}()
		var okN, refusedN int
		for i := range 40 {
			out := filepath.Join(d, fmt.Sprintf("x%d.tok", i))
			r := mk(t, d, "encode", "--modality", "protein", "--plugin-dir", pdir, "--lock", lock, fa, "-o", out)
			switch {
			case r.code == 0:
				okN++
			case strings.Contains(r.stderr, "checksum does not match the pinned one"):
				refused(t, r, "checksum")
				refusedN++
			default:
				t.Errorf("neither ran nor refused by checksum: %v", r)
			}
		}
		stop.Store(true)
		wg.Wait()
		if ran(marker) {
			t.Fatal("the swapped-in program ran although plugins.lock pins another")
		}
		if okN == 0 || refusedN == 0 {
			t.Errorf("the swap loop did not race the commands: %d ran, %d refused", okN, refusedN)
		}
		noLeftovers(t)
		t.Logf("40 encodes during %d swaps: %d ran the pinned plugin, %d refused by checksum, the impostor never", swaps.Load(), okN, refusedN)
	})

	try(t, classTrust, "pinned plugin replaced", func(t *testing.T) {
		d := dir(t)
		pdir, lock := pinned(t, d)
		marker := filepath.Join(d, "impostor-ran")
		impostor(t, filepath.Join(pdir, "mambakit-plugin-protein"), marker, protein(t))
		r := mk(t, d, "encode", "--modality", "protein", "--plugin-dir", pdir, "--lock", lock, fa, "-o", filepath.Join(d, "x.tok"))
		refused(t, r, "checksum does not match", "plugins lock")
		if ran(marker) {
			t.Fatal("the replaced plugin ran")
		}
	})

	try(t, classTrust, "plugins in the current directory (S2)", func(t *testing.T) {
		d := dir(t)
		marker := filepath.Join(d, "impostor-ran")
		os.Mkdir(filepath.Join(d, "plugins"), 0o755)
		for _, p := range []string{"mambakit-plugin-text", "plugins/mambakit-plugin-text", "mambakit-plugin-protein"} {
			impostor(t, filepath.Join(d, p), marker, "")
		}
		in := filepath.Join(d, "a.txt")
		os.WriteFile(in, []byte("hello\n"), 0o644)
		ok(t, mk(t, d, "encode", "--modality", "text", in, "-o", filepath.Join(d, "x.tok")))
		r := mk(t, d, "encode", "--modality", "protein", fa, "-o", filepath.Join(d, "y.tok"))
		refused(t, r, `no plugin "protein"`)
		mk(t, d, "plugins", "list")
		if ran(marker) {
			t.Fatal("a plugin in the current directory ran")
		}
	})

	try(t, classTrust, "unpinned stand-in for a built-in (S3)", func(t *testing.T) {
		d := dir(t)
		_, lock := pinned(t, d)
		pdir := filepath.Join(d, "path")
		os.Mkdir(pdir, 0o755)
		marker := filepath.Join(d, "impostor-ran")
		impostor(t, filepath.Join(pdir, "mambakit-plugin-dna"), marker, bin+" __plugin dna")
		env := []string{"MAMBAKIT_PLUGIN_PATH=" + pdir}
		r := mkEnv(t, d, env, "encode", "--modality", "dna", testdata("dna", "ecoli_536_sample.fa"), "-o", filepath.Join(d, "x.tok"), "--lock", lock)
		ok(t, r)
		if !strings.Contains(r.stderr, "mambakit-plugin-dna") {
			t.Errorf("the ignored stand-in is not reported: %v", r)
		}
		mkEnv(t, d, env, "plugins", "list", "--lock", lock)
		if ran(marker) {
			t.Fatal("an unpinned stand-in for the built-in dna ran")
		}
	})

	try(t, classTrust, "unpinned plugin once plugins.lock exists (S3)", func(t *testing.T) {
		d := dir(t)
		pdir, lock := pinned(t, d)
		marker := filepath.Join(d, "impostor-ran")
		impostor(t, filepath.Join(pdir, "mambakit-plugin-evil"), marker, "")
		r := mk(t, d, "encode", "--modality", "evil", "--plugin-dir", pdir, "--lock", lock, fa, "-o", filepath.Join(d, "x.tok"))
		refused(t, r, "is not pinned", "mambakit plugins lock")
		r = mk(t, d, "plugins", "list", "--plugin-dir", pdir, "--lock", lock)
		if r.timedOut || strings.Contains(r.stderr, "panic") {
			t.Errorf("plugins list: %v", r)
		}
		if ran(marker) {
			t.Fatal("an unpinned plugin ran although plugins.lock exists")
		}
		t.Logf("plugins list:\n%s%s", r.stdout, r.stderr)
	})
}
