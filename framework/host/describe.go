package host

import (
	"context"
	"sync"

	"github.com/mambakit/mambakit/sdk"
)

// Description is what a discovered plugin says about itself (Info), or
// why it did not start (Err), or why it was not run (Untrusted: an
// external plugin the lock file does not pin).
type Description struct {
	Entry     Entry
	Info      sdk.Info
	Err       error
	Untrusted string
}

// DescribeAll starts every discovered plugin it may run, in parallel, and
// returns what each says about itself, in the order of Discover. A plugin
// the lock file does not pin is not run.
func (h *Host) DescribeAll(ctx context.Context) ([]Description, error) {
	ents, err := h.Discover()
	if err != nil {
		return nil, err
	}
	ds := make([]Description, len(ents))
	var wg sync.WaitGroup
	for i, e := range ents {
		ds[i].Entry = e
		if ok, why := h.Trusted(e); !ok {
			ds[i].Untrusted = why
			continue
		}
		wg.Go(func() {
			p, err := h.StartEntry(ctx, e)
			if err != nil {
				ds[i].Err = err
				return
			}
			defer p.Close()
			ds[i].Info = p.Info
		})
	}
	wg.Wait()
	return ds, nil
}
