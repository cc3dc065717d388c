package host

import (
	"context"
	"sync"

	"github.com/mambakit/mambakit/sdk"
)

// Description is what a discovered plugin says about itself (Info), or
// why it did not start (Err).
type Description struct {
	Entry Entry
	Info  sdk.Info
	Err   error
}

// DescribeAll starts every discovered plugin, in parallel, and returns
// what each says about itself, in the order of Discover.
func (h *Host) DescribeAll(ctx context.Context) ([]Description, error) {
	ents, err := h.Discover()
	if err != nil {
		return nil, err
	}
	ds := make([]Description, len(ents))
	var wg sync.WaitGroup
	for i, e := range ents {
		ds[i].Entry = e
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
