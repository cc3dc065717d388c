package sdk

import (
	"context"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/mambakit/mambakit/sdk/internal/pluginpb"
)

// Loopback serves m over a real gRPC connection inside this process and
// returns a Modality that calls it through the wire converters and message
// limits a plugin process uses; only the process boundary is missing.
// sdktest runs its suite through it; it also measures protocol overhead.
// stop closes the connection and the server.
func Loopback(m Modality) (client Modality, stop func(), err error) {
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(serverOptions()...)
	pluginpb.RegisterModalityServer(srv, &grpcServer{impl: m})
	go srv.Serve(lis)
	opts := append(dialOptions(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
	)
	conn, err := grpc.NewClient("passthrough:///loopback", opts...)
	if err != nil {
		srv.Stop()
		return nil, nil, err
	}
	stop = func() {
		conn.Close()
		srv.Stop()
	}
	return &grpcClient{rpc: pluginpb.NewModalityClient(conn)}, stop, nil
}
