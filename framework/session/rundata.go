package session

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/mambakit/mambakit/framework/host"
	"github.com/mambakit/mambakit/framework/train"
)

// Starter starts the plugin called name (host.Host.Start, through the
// command line's plugin settings).
type Starter func(ctx context.Context, name string) (*host.Plugin, error)

// OpenNewRun starts the plugin of modality with start and prepares the
// data of a new run in dir: the inputs (none: the modality's bundled
// sample, written under dir/bundled once) into dir/data, split with c's
// seed and validation fraction, reporting on stdout. The session restarts
// the plugin with start if it crashes, and its Close stops it. It returns
// the inputs it prepared.
func OpenNewRun(ctx context.Context, start Starter, modality string, inputs []string, opts map[string]string, dir string, c train.Config, stdout io.Writer) (*Session, []string, error) {
	p, err := start(ctx, modality)
	if err != nil {
		return nil, nil, err
	}
	if len(inputs) == 0 {
		sample, err := BundledSample(modality, filepath.Join(dir, "bundled"))
		if err != nil {
			p.Close()
			return nil, nil, err
		}
		fmt.Fprintf(stdout, "no --data: training on the bundled %s sample (%s)\n", modality, sample)
		inputs = []string{sample}
	}
	s, err := Open(ctx, p, inputs, opts, filepath.Join(dir, "data"), c.Seed, c.ValidFraction, stdout)
	if err != nil {
		p.Close()
		return nil, nil, err
	}
	s.own(ctx, start, modality)
	return s, inputs, nil
}

// OpenRun starts the plugin the run info describes (in dir) with start and
// loads the dataset the run prepared, warning on stdout when the plugin's
// version is not the run's. The session restarts the plugin with start if
// it crashes, and its Close stops it.
func OpenRun(ctx context.Context, start Starter, dir string, info train.RunInfo, stdout io.Writer) (*Session, error) {
	p, err := start(ctx, info.Modality.Name)
	if err != nil {
		return nil, err
	}
	if p.Info.Version != info.Modality.Version {
		fmt.Fprintf(stdout, "warning: the run used %s plugin version %s, now %s\n", info.Modality.Name, info.Modality.Version, p.Info.Version)
	}
	s, err := Load(p, filepath.Join(dir, "data"), info.PrepareOptions)
	if err != nil {
		p.Close()
		return nil, err
	}
	s.own(ctx, start, info.Modality.Name)
	return s, nil
}

// own makes the session the owner of its plugin (Close stops it) and lets
// it restart the plugin with start.
func (s *Session) own(ctx context.Context, start Starter, name string) {
	s.started = s.Plugin
	s.Restart = func() (*host.Plugin, error) { return start(ctx, name) }
}
