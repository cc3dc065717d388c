package sdk

import (
	"fmt"
	"maps"
	"slices"

	"github.com/mambakit/mambakit/sdk/internal/pluginpb"
)

// Converters between the plain sdk types and the generated protobuf types,
// in pairs. They never keep a reference to their input's slices or maps
// except where noted, so a caller may reuse its buffers.

func infoToProto(in Info) (*pluginpb.Info, error) {
	k, err := kindToProto(in.Kind)
	if err != nil {
		return nil, err
	}
	return &pluginpb.Info{
		Name:            in.Name,
		Version:         in.Version,
		ProtocolVersion: int32(in.ProtocolVersion),
		Kind:            k,
		VocabSize:       int64(in.VocabSize),
		Special:         maps.Clone(in.Special),
		Unit:            in.Unit,
		UnitsPerToken:   in.UnitsPerToken,
		FileTypes:       slices.Clone(in.FileTypes),
	}, nil
}

func infoFromProto(in *pluginpb.Info) (Info, error) {
	if in == nil {
		return Info{}, fmt.Errorf("sdk: Describe: empty response")
	}
	k, err := kindFromProto(in.GetKind())
	if err != nil {
		return Info{}, err
	}
	return Info{
		Name:            in.GetName(),
		Version:         in.GetVersion(),
		ProtocolVersion: int(in.GetProtocolVersion()),
		Kind:            k,
		VocabSize:       int(in.GetVocabSize()),
		Special:         maps.Clone(in.GetSpecial()),
		Unit:            in.GetUnit(),
		UnitsPerToken:   in.GetUnitsPerToken(),
		FileTypes:       slices.Clone(in.GetFileTypes()),
	}, nil
}

func kindToProto(k Kind) (pluginpb.Kind, error) {
	switch k {
	case "":
		return pluginpb.Kind_KIND_UNSPECIFIED, nil
	case KindDiscrete:
		return pluginpb.Kind_KIND_DISCRETE, nil
	case KindContinuous:
		return pluginpb.Kind_KIND_CONTINUOUS, nil
	}
	return 0, fmt.Errorf("sdk: unknown kind %q (want %q or %q)", k, KindDiscrete, KindContinuous)
}

func kindFromProto(k pluginpb.Kind) (Kind, error) {
	switch k {
	case pluginpb.Kind_KIND_UNSPECIFIED:
		return "", nil
	case pluginpb.Kind_KIND_DISCRETE:
		return KindDiscrete, nil
	case pluginpb.Kind_KIND_CONTINUOUS:
		return KindContinuous, nil
	}
	return "", fmt.Errorf("sdk: unknown kind %d from plugin (newer protocol?)", k)
}

func prepareRequestToProto(in PrepareRequest) *pluginpb.PrepareRequest {
	return &pluginpb.PrepareRequest{
		Inputs:        slices.Clone(in.Inputs),
		OutDir:        in.OutDir,
		Options:       maps.Clone(in.Options),
		Seed:          in.Seed,
		ValidFraction: in.ValidFraction,
	}
}

func prepareRequestFromProto(in *pluginpb.PrepareRequest) PrepareRequest {
	return PrepareRequest{
		Inputs:        slices.Clone(in.GetInputs()),
		OutDir:        in.GetOutDir(),
		Options:       maps.Clone(in.GetOptions()),
		Seed:          in.GetSeed(),
		ValidFraction: in.GetValidFraction(),
	}
}

func datasetToProto(in Dataset) *pluginpb.Dataset {
	return &pluginpb.Dataset{
		Dir:       in.Dir,
		VocabSize: int64(in.VocabSize),
		Train:     splitToProto(in.Train),
		Valid:     splitToProto(in.Valid),
		Artifacts: slices.Clone(in.Artifacts),
	}
}

func datasetFromProto(in *pluginpb.Dataset) Dataset {
	return Dataset{
		Dir:       in.GetDir(),
		VocabSize: int(in.GetVocabSize()),
		Train:     splitFromProto(in.GetTrain()),
		Valid:     splitFromProto(in.GetValid()),
		Artifacts: slices.Clone(in.GetArtifacts()),
	}
}

func splitToProto(in Split) *pluginpb.Split {
	return &pluginpb.Split{File: in.File, DocsFile: in.DocsFile, Tokens: in.Tokens, Units: in.Units, Documents: in.Documents}
}

func splitFromProto(in *pluginpb.Split) Split {
	return Split{File: in.GetFile(), DocsFile: in.GetDocsFile(), Tokens: in.GetTokens(), Units: in.GetUnits(), Documents: in.GetDocuments()}
}
