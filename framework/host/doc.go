// Package host finds, pins, starts and talks to modality plugins.
//
// A plugin is a process started with hashicorp/go-plugin (gRPC, AutoMTLS)
// through sdk.Open; this package decides which executable that is and how
// it is started:
//
//   - Discovery: executables named mambakit-plugin-NAME on
//     $MAMBAKIT_PLUGIN_PATH (a list like $PATH) and in ./plugins, then the
//     built-ins, which the mambakit binary serves by re-executing itself in
//     plugin mode. The first found wins, so a plugin on the path can stand in
//     for a built-in of the same name.
//   - Pinning: plugins.lock records each external plugin's SHA-256; a
//     pinned plugin whose binary changed is refused before it runs.
//   - Lifecycle: plugins die with the host (Pdeathsig on Linux) and a crash
//     is reported in one line with the exit status and the last log lines.
//   - Caching: Prepare is skipped when the output directory already holds
//     the dataset for the same plugin version, inputs, options and seed.
//
// The package never touches protobuf types; see docs/protocol.md and
// docs/plugins.md.
package host
