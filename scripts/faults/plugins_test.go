//go:build faults && linux

package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPluginKills kills the plugin process (SIGKILL) while it works:
// preparing a dataset, encoding a file, and between the samples of a
// training run. The host must fail in one line naming the crash, or
// restart the plugin and carry on, as docs/training.md says, and leave
// nothing half-written.
func TestPluginKills(t *testing.T) {
	fa := bigFASTA(t)
	want, prepTime := prepared(t)
	for i := range 6 {
		try(t, classPluginKill, fmt.Sprintf("mid-prepare %d", i), func(t *testing.T) {
			d := dir(t)
			out := filepath.Join(d, "ds")
			p := start(t, d, nil, 60*time.Second, "prepare", "--modality", "dna", "--data", fa, "-o", out)
			plugin := pluginOf(p.pid(), 10*time.Second)
			if plugin == 0 {
				t.Fatalf("no plugin process: %v", p.wait())
			}
			at := random(0, prepTime*8/10)
			time.Sleep(at)
			syscall.Kill(plugin, syscall.SIGKILL)
			r := p.wait()
			if r.code == 0 { // the plugin had finished its work
				sameDataset(t, want, out)
				t.Logf("killed at %v, after its work", at.Round(time.Millisecond))
				return
			}
			refused(t, r, `plugin "dna" crashed during `, "(signal: killed)") // during start, or Prepare
			if ents, _ := os.ReadDir(d); len(ents) != 0 {
				t.Errorf("left behind: %v", ents)
			}
			ok(t, mk(t, d, "prepare", "--modality", "dna", "--data", fa, "-o", out))
			sameDataset(t, want, out)
			noLeftovers(t)
			t.Logf("killed at %v: %s", at.Round(time.Millisecond), strings.TrimSpace(r.stderr))
		})
	}
	try(t, classPluginKill, "mid-encode", func(t *testing.T) {
		d := dir(t)
		out := filepath.Join(d, "x.tok")
		p := start(t, d, nil, 60*time.Second, "encode", "--modality", "dna", fa, "-o", out)
		plugin := pluginOf(p.pid(), 10*time.Second)
		at := random(50*time.Millisecond, 250*time.Millisecond) // the plugin encodes from about 0.1 s to 0.4 s
		time.Sleep(at)
		syscall.Kill(plugin, syscall.SIGKILL)
		r := p.wait()
		if r.code == 0 {
			skip(t, "encode ended before the plugin was killed")
		}
		refused(t, r, `plugin "dna" crashed during`)
		if ents, _ := os.ReadDir(d); len(ents) != 0 {
			t.Errorf("left behind: %v", ents)
		}
		noLeftovers(t)
	})
	// During training the plugin only decodes the evaluations' samples.
	for _, kills := range []int{1, 2} {
		for i := range 2 {
			try(t, classPluginKill, fmt.Sprintf("mid-train, killed %d× (%d)", kills, i), func(t *testing.T) {
				reference(t)
				run := filepath.Join(dir(t), "run")
				p := start(t, tmp, nil, 120*time.Second, trainArgs(run)...)
				plugin := pluginOf(p.pid(), 10*time.Second)
				// Between steps 1 and 19, before the first sample.
				if !waitFor(30*time.Second, func() bool { return strings.Contains(p.stdout.String(), "step 10/") }) {
					t.Fatalf("no step 10: %v", p.wait())
				}
				time.Sleep(random(0, 100*time.Millisecond))
				syscall.Kill(plugin, syscall.SIGKILL)
				if kills == 2 {
					// Kill the restarted plugin too: the next sample is
					// skipped, and the run goes on.
					if !waitFor(30*time.Second, func() bool { return strings.Contains(p.stdout.String(), "restarted the dna plugin") }) {
						t.Fatalf("no restart: %v", p.wait())
					}
					second := pluginOf(p.pid(), 10*time.Second)
					if second == 0 || second == plugin {
						t.Fatalf("no restarted plugin (%d)", second)
					}
					syscall.Kill(second, syscall.SIGKILL)
				}
				r := p.wait()
				ok(t, r)
				events, err := os.ReadFile(filepath.Join(run, "events.log"))
				if err != nil {
					t.Fatal(err)
				}
				wantEvents := []string{`plugin "dna" crashed during Decode (signal: killed); restarted the dna plugin`}
				if kills == 2 {
					wantEvents = append(wantEvents, `sample skipped: plugin "dna" crashed during Decode (signal: killed)`)
				}
				for _, w := range wantEvents {
					if !strings.Contains(string(events), w) || !strings.Contains(r.stdout, w) {
						t.Errorf("%q is not in events.log and the output:\n%s\n%s", w, events, r.stdout)
					}
				}
				sameAsReference(t, run, kills == 2) // skipped samples leave no sample in metrics.jsonl
				noLeftovers(t)
				t.Logf("events.log:\n%s", events)
			})
		}
	}
}
