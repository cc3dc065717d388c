package sdk

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mambakit/mambakit/sdk/internal/pluginpb"
)

// grpcPlugin is the go-plugin glue: it serves a Modality (plugin side) and
// dispenses a grpcClient (host side).
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Modality // plugin side only
}

var _ plugin.GRPCPlugin = (*grpcPlugin)(nil)

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginpb.RegisterModalityServer(s, &grpcServer{impl: p.impl})
	return nil
}

func (p *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &grpcClient{rpc: pluginpb.NewModalityClient(c)}, nil
}

// grpcServer runs in the plugin and calls the Modality. It turns errors
// into gRPC statuses and panics into errors, so a bad input that trips a
// bug in a decoder fails one call instead of killing the plugin.
type grpcServer struct {
	pluginpb.UnimplementedModalityServer
	impl Modality
}

func (s *grpcServer) Describe(ctx context.Context, _ *pluginpb.DescribeRequest) (resp *pluginpb.DescribeResponse, err error) {
	defer recoverCall("Describe", &err)
	info, err := s.impl.Describe(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	info.ProtocolVersion = pluginpb.ProtocolVersion
	pi, err := infoToProto(info)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pluginpb.DescribeResponse{Info: pi}, nil
}

func (s *grpcServer) Prepare(ctx context.Context, req *pluginpb.PrepareRequest) (resp *pluginpb.PrepareResponse, err error) {
	defer recoverCall("Prepare", &err)
	ds, err := s.impl.Prepare(ctx, prepareRequestFromProto(req))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pluginpb.PrepareResponse{Dataset: datasetToProto(ds)}, nil
}

func (s *grpcServer) Encode(ctx context.Context, req *pluginpb.EncodeRequest) (resp *pluginpb.EncodeResponse, err error) {
	defer recoverCall("Encode", &err)
	ids, err := s.impl.Encode(ctx, EncodeRequest{Data: req.GetData(), Name: req.GetName(), Options: req.GetOptions(), Open: req.GetOpen()})
	if err != nil {
		return nil, toStatus(err)
	}
	if len(ids) > MaxEncodeTokens {
		// Say so here rather than let gRPC refuse the reply with its own
		// message after marshalling it.
		return nil, status.Errorf(codes.InvalidArgument, "%s: %d tokens is more than one Encode reply carries (%d); use prepare, which writes tokens to disk", req.GetName(), len(ids), MaxEncodeTokens)
	}
	return &pluginpb.EncodeResponse{Tokens: tokensToBytes(ids)}, nil
}

func (s *grpcServer) Decode(ctx context.Context, req *pluginpb.DecodeRequest) (resp *pluginpb.DecodeResponse, err error) {
	defer recoverCall("Decode", &err)
	ids, err := tokensFromBytes(req.GetTokens())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	data, err := s.impl.Decode(ctx, DecodeRequest{Tokens: ids, Options: req.GetOptions()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pluginpb.DecodeResponse{Data: data}, nil
}

// recoverCall turns a panic in the plugin's method into an error and logs
// the stack, which reaches the host's log.
func recoverCall(method string, err *error) {
	if r := recover(); r != nil {
		Logger().Error("panic in "+method, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		*err = status.Errorf(codes.Internal, "%s panicked: %v", method, r)
	}
}

func toStatus(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Unknown, err.Error())
}

// grpcClient runs in the host and implements Modality over gRPC.
type grpcClient struct {
	rpc pluginpb.ModalityClient
}

var _ Modality = (*grpcClient)(nil)

func (c *grpcClient) Describe(ctx context.Context) (Info, error) {
	resp, err := c.rpc.Describe(ctx, &pluginpb.DescribeRequest{})
	if err != nil {
		return Info{}, fromStatus(ctx, err)
	}
	return infoFromProto(resp.GetInfo())
}

func (c *grpcClient) Prepare(ctx context.Context, req PrepareRequest) (Dataset, error) {
	resp, err := c.rpc.Prepare(ctx, prepareRequestToProto(req))
	if err != nil {
		return Dataset{}, fromStatus(ctx, err)
	}
	return datasetFromProto(resp.GetDataset()), nil
}

func (c *grpcClient) Encode(ctx context.Context, req EncodeRequest) (Tokens, error) {
	if len(req.Data) > MaxEncodeBytes {
		return nil, fmt.Errorf("%s: %d bytes is more than Encode takes in one call (%d bytes); use prepare, which reads files by path", req.Name, len(req.Data), MaxEncodeBytes)
	}
	resp, err := c.rpc.Encode(ctx, &pluginpb.EncodeRequest{Data: req.Data, Name: req.Name, Options: req.Options, Open: req.Open})
	if err != nil {
		return nil, fromStatus(ctx, err)
	}
	return tokensFromBytes(resp.GetTokens())
}

func (c *grpcClient) Decode(ctx context.Context, req DecodeRequest) ([]byte, error) {
	if len(req.Tokens) > MaxEncodeTokens {
		return nil, fmt.Errorf("%d tokens is more than Decode takes in one call (%d)", len(req.Tokens), MaxEncodeTokens)
	}
	resp, err := c.rpc.Decode(ctx, &pluginpb.DecodeRequest{Tokens: tokensToBytes(req.Tokens), Options: req.Options})
	if err != nil {
		return nil, fromStatus(ctx, err)
	}
	return resp.GetData(), nil
}

// RemoteError is an error that a plugin returned from a call: its message
// is the plugin's own, passed on unchanged.
type RemoteError struct {
	Code    string // the gRPC status code, e.g. "Unknown", "Unavailable"
	Message string
}

func (e *RemoteError) Error() string { return e.Message }

// fromStatus turns a gRPC status back into a plain error: context errors
// when the host's context ended, otherwise a *RemoteError carrying the
// plugin's message.
func fromStatus(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.Canceled:
		return context.Canceled
	case codes.DeadlineExceeded:
		return context.DeadlineExceeded
	case codes.ResourceExhausted:
		// gRPC's own message-size error: say which limit and what to do.
		return &RemoteError{Code: st.Code().String(), Message: fmt.Sprintf("%s (the protocol's limit is %d MiB per message; use prepare for large inputs)", st.Message(), MaxMessageSize>>20)}
	}
	return &RemoteError{Code: st.Code().String(), Message: st.Message()}
}
