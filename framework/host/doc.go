// Package host finds, pins, starts and talks to modality plugins.
//
// A plugin is a process started with hashicorp/go-plugin (gRPC, AutoMTLS)
// through sdk.Open; this package decides which executable that is and how
// it is started:
//
//   - Discovery: executables named mambakit-plugin-NAME in the directories
//     the user gives (Config.Dirs: --plugin-dir, $MAMBAKIT_PLUGIN_PATH; never
//     the current directory by default), then the built-ins, which the
//     mambakit binary serves by re-executing itself in plugin mode. The
//     first found wins, but an external plugin stands in for a built-in of
//     the same name only when pinned or allowed (Config.Shadow), and that
//     is logged on every command (trust.go).
//   - Pinning: plugins.lock records each external plugin's SHA-256; once it
//     exists an unpinned external plugin is refused, and a pinned one is
//     hashed and executed through one open descriptor (pinned.go), so a
//     changed or swapped binary never runs.
//   - Lifecycle: plugins die with the host (Pdeathsig on Linux) and a crash
//     is reported in one line with the exit status and the last log lines.
//   - Caching: Prepare is skipped when the output directory already holds
//     the dataset for the same plugin version, inputs, options and seed.
//   - Description: what every plugin says of itself (DescribeAll, one
//     Description.Row each) and the facts of one started plugin with its
//     pin (Host.Facts), as "mambakit plugins list" and "info" print them;
//     one file encoded or decoded into another (Plugin.EncodeFile,
//     DecodeFile).
//
// The package never touches protobuf types; see docs/protocol.md and
// docs/plugins.md.
package host
