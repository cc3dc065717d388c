package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mambakit/mambakit/framework/host"
	"github.com/mambakit/mambakit/framework/train"
	"github.com/mambakit/mambakit/sdk"
)

// Session is a started plugin and a dataset it prepared.
type Session struct {
	Plugin *host.Plugin
	// Restart, when set, starts the plugin again: the first crash during a
	// run is answered by one restart (training itself does not call the
	// plugin; its samples do).
	Restart   func() (*host.Plugin, error)
	restarted bool
	// started is the plugin the session started and stops (OpenNewRun,
	// OpenRun); nil when the caller owns the plugin.
	started *host.Plugin
	// event reports a restart in the run's output and events.log (Run
	// sets it to the train.Run's Event).
	event    func(format string, args ...any)
	Dir      string // the dataset directory
	Manifest sdk.DatasetFile
	// Special are the plugin's special ids as the dataset's tokenizer
	// numbers them (DataSpecial).
	Special      map[string]int32
	prepOpts     map[string]string
	splits       []*sdk.SplitData
	Train, Valid *train.Data
}

// Open prepares the inputs through the plugin into dsDir (reusing a cached
// dataset) and loads it, reporting both steps on stdout.
func Open(ctx context.Context, p *host.Plugin, inputs []string, opts map[string]string, dsDir string, seed uint64, valid float64, stdout io.Writer) (*Session, error) {
	fmt.Fprintf(stdout, "preparing %d input(s) with the %s plugin %s...\n", len(inputs), p.Info.Name, p.Info.Version)
	ds, cached, err := p.Prepare(ctx, sdk.PrepareRequest{Inputs: inputs, OutDir: dsDir, Options: opts, Seed: seed, ValidFraction: valid})
	if err != nil {
		return nil, err
	}
	note := ""
	if cached {
		note = " (cached)"
	}
	fmt.Fprintf(stdout, "dataset%s: train %d tokens in %d documents, validation %d tokens in %d documents, vocabulary %d\n",
		note, ds.Train.Tokens, ds.Train.Documents, ds.Valid.Tokens, ds.Valid.Documents, ds.VocabSize)
	return Load(p, dsDir, opts)
}

// Load loads a dataset that p prepared with opts into dsDir.
func Load(p *host.Plugin, dsDir string, opts map[string]string) (*Session, error) {
	mf, err := sdk.ReadDataset(dsDir)
	if err != nil {
		return nil, err
	}
	special, err := DataSpecial(p.Info, dsDir, mf.Artifacts)
	if err != nil {
		return nil, err
	}
	s := &Session{Plugin: p, Dir: dsDir, Manifest: mf, Special: special, prepOpts: opts}
	for _, sp := range []struct {
		name string
		file sdk.SplitFile
		dst  **train.Data
	}{{"train", mf.Train, &s.Train}, {"valid", mf.Valid, &s.Valid}} {
		d, err := sdk.OpenSplit(dsDir, sp.name)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.splits = append(s.splits, d)
		upt := 1.0
		if sp.file.Tokens > 0 && sp.file.Units > 0 {
			upt = float64(sp.file.Units) / float64(sp.file.Tokens)
		}
		*sp.dst = train.NewData(d.Tokens, d.Docs, upt)
		if marker, ok := p.Info.Special["answer"]; ok { // a task: score its answers
			(*sp.dst).MarkAnswers(marker)
		}
		if end, ok := DocEnd(special); ok {
			(*sp.dst).SetDocEnd(end)
		}
	}
	return s, nil
}

// Close unmaps the dataset and stops a restarted plugin, and the one the
// session started (otherwise the caller stops the one it started).
func (s *Session) Close() {
	for _, d := range s.splits {
		d.Close()
	}
	if s.restarted {
		s.Plugin.Close()
	}
	if s.started != nil {
		s.started.Close()
	}
}

// Decode decodes tokens with the plugin, restarting it once if it crashed.
func (s *Session) Decode(ctx context.Context, tokens []int32) ([]byte, error) {
	req := sdk.DecodeRequest{Tokens: tokens, Options: CodecOptions(s.prepOpts, s.Dir, s.Manifest.Artifacts)}
	b, err := s.Plugin.Decode(ctx, req)
	var crash *sdk.CrashError
	if errors.As(err, &crash) && s.Restart != nil && !s.restarted {
		np, rerr := s.Restart()
		if rerr != nil {
			return nil, fmt.Errorf("%w; restarting it failed: %v", err, rerr)
		}
		s.Plugin, s.restarted = np, true
		if s.event != nil {
			s.event("%v; restarted the %s plugin (pid %d)", err, np.Info.Name, np.Pid())
		}
		return s.Plugin.Decode(ctx, req)
	}
	return b, err
}

// Run builds the train.Run of configuration c in the run directory dir
// over this session's data, reporting on stdout (a live bar when it is a
// terminal); its samples are decoded by the plugin.
func (s *Session) Run(dir string, c train.Config, stdout io.Writer) *train.Run {
	var arts []string
	for _, a := range s.Manifest.Artifacts {
		arts = append(arts, filepath.Join(s.Dir, a))
	}
	r := &train.Run{
		Dir: dir, Config: c, Train: s.Train, Valid: s.Valid, VocabSize: s.Manifest.VocabSize,
		Modality:       pluginRecord(s.Plugin),
		PrepareOptions: s.prepOpts,
		Artifacts:      arts,
		Special:        s.Special,
		StopTokens:     StopTokens(s.Special),
		Sample: func(ctx context.Context, tokens []int32, prompt int, dir string, step int) (string, error) {
			info := s.Plugin.Info
			info.Special = s.Special // as the dataset's tokenizer numbers them
			g, err := DecodeGenerated(ctx, s.Decode, info, tokens, prompt)
			if err != nil {
				return "", err
			}
			path := filepath.Join(dir, fmt.Sprintf("step-%08d%s", step, SampleExt(s.Plugin.Info.Unit)))
			return path, WriteGenerated(path, g)
		},
		Out:      stdout,
		Terminal: isTerminal(stdout),
	}
	s.event = r.Event
	return r
}

// pluginRecord identifies the plugin for config.yaml and checkpoints,
// with the SHA-256 of the executable that served it.
func pluginRecord(p *host.Plugin) train.Plugin {
	rec := train.Plugin{Name: p.Info.Name, Version: p.Info.Version, Unit: p.Info.Unit}
	if b, err := os.ReadFile(p.Entry.Path); err == nil {
		sum := sha256.Sum256(b)
		rec.Checksum = "sha256:" + hex.EncodeToString(sum[:])
	}
	return rec
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
