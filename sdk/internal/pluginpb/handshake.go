package pluginpb

// ProtocolVersion is the plugin protocol version this package implements;
// it is go-plugin's Handshake.ProtocolVersion and the v1 in the proto
// package name. Bump it only together with a new proto package.
const ProtocolVersion = 1

// The magic cookie is not a security measure: it only makes a plugin binary
// started by hand print a hint instead of waiting for a host that never
// comes.
const (
	MagicCookieKey   = "MAMBAKIT_PLUGIN_MAGIC_COOKIE"
	MagicCookieValue = "4c1e0d6a6f7c2f0b-mambakit-modality"
)

// PluginName is the name the modality service is dispensed under.
const PluginName = "modality"
