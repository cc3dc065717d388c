package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/mambakit/mambakit/framework/dashboard"
)

func newServeCmd(x *invocation) *cobra.Command {
	var addr string
	c := &cobra.Command{
		Use:   "serve [--addr 127.0.0.1:8080] DIR...",
		Short: "a local dashboard of the runs under DIR... (docs/dashboard.md)",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("serve: name at least one directory of runs")
			}
			return runServe(c.Context(), addr, args, x.stdout, c.ErrOrStderr())
		},
	}
	c.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on (anything but loopback is reachable by others: a warning says so)")
	return c
}

// runServe serves the dashboard of dirs on addr until ctx ends (Ctrl-C).
func runServe(ctx context.Context, addr string, dirs []string, stdout, stderr io.Writer) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("--addr %q: %v", addr, err)
	}
	s, err := dashboard.New(dirs)
	if err != nil {
		return err
	}
	defer s.Close()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fmt.Fprintf(stderr, "mambakit serve: warning: %s is reachable from other machines; the dashboard has no authentication (it is read-only)\n", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	fmt.Fprintf(stdout, "serving %d folder(s) on http://%s/ (Ctrl-C stops)\n", len(dirs), ln.Addr())
	srv := &http.Server{Handler: s}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	}
	return nil
}
