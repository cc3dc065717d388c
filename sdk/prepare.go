package sdk

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Doc is one document for PrepareFiles: its tokens and the number of units
// (bytes, bases, samples) they stand for.
type Doc struct {
	Tokens Tokens
	Units  int64
}

// PrepareFiles is a complete Prepare for plugins that tokenize one file at a
// time: it expands req.Inputs with InputFiles(req.Inputs, suffixes), calls
// docs for each file's contents (in parallel, up to GOMAXPROCS files at
// once), and writes the documents in input order with a DatasetWriter. An
// error names the file. It checks ctx between files. A file is read whole,
// so one above MaxFileBytes is refused (ReadInput).
//
// Plugins that need the whole corpus first (to learn a vocabulary) write
// their own Prepare with InputFiles and NewDatasetWriter.
func PrepareFiles(ctx context.Context, req PrepareRequest, suffixes []string, docs func(name string, data []byte) ([]Doc, error)) (Dataset, error) {
	if err := ctx.Err(); err != nil {
		return Dataset{}, err
	}
	files, err := InputFiles(req.Inputs, suffixes)
	if err != nil {
		return Dataset{}, err
	}
	w, err := NewDatasetWriter(req)
	if err != nil {
		return Dataset{}, err
	}
	defer w.Abort()
	type result struct {
		docs []Doc
		err  error
	}
	// Each file gets a channel; workers fill them, and the loop below
	// drains them in order, so the dataset does not depend on scheduling.
	results := make([]chan result, len(files))
	for i := range results {
		results[i] = make(chan result, 1)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	go func() {
		for i, f := range files {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				// A panic here would escape the RPC's recovery (another
				// goroutine) and kill the plugin: turn it into this file's
				// error.
				defer func() {
					if r := recover(); r != nil {
						Logger().Error("panic in Prepare", "file", f, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
						results[i] <- result{err: fmt.Errorf("%s: panicked: %v", f, r)}
					}
				}()
				data, err := ReadInput(f, MaxFileBytes)
				if err != nil {
					results[i] <- result{err: err}
					return
				}
				d, err := docs(f, data)
				if err != nil {
					err = fmt.Errorf("%s: %w", f, err)
				}
				results[i] <- result{d, err}
			}()
		}
	}()
	for i := range files {
		var r result
		select {
		case r = <-results[i]:
			// Free the slot only now: finished files wait here in order,
			// so at most GOMAXPROCS files' tokens are held at once.
			<-sem
		case <-ctx.Done():
			return Dataset{}, ctx.Err()
		}
		if r.err != nil {
			return Dataset{}, r.err
		}
		for _, d := range r.docs {
			if err := w.Add(d.Tokens, d.Units); err != nil {
				return Dataset{}, fmt.Errorf("%s: %w", files[i], err)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return Dataset{}, err
	}
	ds, err := w.Finish()
	if err != nil {
		// Name the inputs: the usual cause is inputs with no content.
		return Dataset{}, fmt.Errorf("%s: %w", strings.Join(req.Inputs, ", "), err)
	}
	return ds, nil
}
