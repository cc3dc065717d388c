// Command testplugin is a plugin for the host's and the CLI's tests. Its
// name comes from its executable (mambakit-plugin-NAME), and it misbehaves
// on request:
//
//   - TESTPLUGIN_PROTOCOL=N in its environment: it answers the handshake
//     with protocol version N (and serves nothing).
//   - at start it prints a JSON log line whose @message is a number (which
//     panics an unprotected go-plugin host) and a line to stdout.
//   - Prepare option "crash": log a line, then exit with status 3.
//   - Prepare option "hang": write part of a dataset, log "hanging", then
//     wait until the call is cancelled.
//   - Prepare option "stuck": log "stuck", then block for good, deaf to
//     the call's context (as a plugin reading a named pipe would).
//   - Prepare option "stop": log "stopping", then stop its own process
//     (SIGSTOP): it answers nothing, not even go-plugin's shutdown call.
//
// Its modality is bytes: token id = byte value, vocabulary 256.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/mambakit/mambakit/sdk"
	"github.com/mambakit/mambakit/sdk/internal/pluginpb"
)

type bytesModality struct{ name string }

func (m bytesModality) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: m.name, Version: "1.2.3", Kind: sdk.KindDiscrete, VocabSize: 256, Unit: "byte",
		UnitsPerToken: 1, FileTypes: []string{".txt"}}, nil
}

func (m bytesModality) Prepare(ctx context.Context, req sdk.PrepareRequest) (sdk.Dataset, error) {
	log := sdk.Logger()
	switch {
	case req.Options["crash"] != "":
		log.Error("about to crash", "input", strings.Join(req.Inputs, ","))
		os.Exit(3)
	case req.Options["hang"] != "":
		w, err := sdk.NewDatasetWriter(req)
		if err != nil {
			return sdk.Dataset{}, err
		}
		defer w.Abort()
		for i := range 100 {
			w.Add(sdk.Tokens{int32(i), 1, 2, 3}, 4)
		}
		log.Info("hanging")
		<-ctx.Done()
		return sdk.Dataset{}, ctx.Err()
	}
	if req.Options["stuck"] != "" {
		log.Info("stuck")
		select {}
	}
	if req.Options["stop"] != "" {
		log.Info("stopping")
		stopSelf()
	}
	log.Info("preparing", "inputs", len(req.Inputs))
	fmt.Println("hello on stdout")
	return sdk.PrepareFiles(ctx, req, []string{".txt"}, func(_ string, data []byte) ([]sdk.Doc, error) {
		ids, _ := m.Encode(ctx, sdk.EncodeRequest{Data: data})
		return []sdk.Doc{{Tokens: ids, Units: int64(len(data))}}, nil
	})
}

func (bytesModality) Encode(_ context.Context, req sdk.EncodeRequest) (sdk.Tokens, error) {
	ids := make(sdk.Tokens, len(req.Data))
	for i, b := range req.Data {
		ids[i] = int32(b)
	}
	return ids, nil
}

func (bytesModality) Decode(_ context.Context, req sdk.DecodeRequest) ([]byte, error) {
	out := make([]byte, len(req.Tokens))
	for i, id := range req.Tokens {
		if id < 0 || id > 255 {
			return nil, fmt.Errorf("token %d: id %d is not a byte", i, id)
		}
		out[i] = byte(id)
	}
	return out, nil
}

// nothing serves no service: enough to answer a handshake.
type nothing struct{ plugin.NetRPCUnsupportedPlugin }

func (nothing) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return nil }
func (nothing) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

func main() {
	name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(os.Args[0]), "mambakit-plugin-"), ".exe")
	if v := os.Getenv("TESTPLUGIN_PROTOCOL"); v != "" {
		n, _ := strconv.Atoi(v)
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig: plugin.HandshakeConfig{ProtocolVersion: uint(n),
				MagicCookieKey: pluginpb.MagicCookieKey, MagicCookieValue: pluginpb.MagicCookieValue},
			Plugins:    plugin.PluginSet{pluginpb.PluginName: nothing{}},
			GRPCServer: plugin.DefaultGRPCServer,
		})
		return
	}
	fmt.Fprintln(os.Stderr, `{"@message": 5, "@level": ["x"], "@timestamp": 7}`)
	sdk.Serve(bytesModality{name: name})
}
