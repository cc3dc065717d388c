// Package session joins a started modality plugin and the dataset it
// prepared: what training, evaluation and the Markov baseline need from the
// plugin side. Open prepares inputs through the plugin (reusing a cached
// dataset) and loads both splits as train.Data, with their units per token;
// Session.Run builds the train.Run whose samples the plugin decodes,
// restarting it once if it crashed. The helpers beside it turn a
// modality's description into what the host needs: the options that encode
// and decode like a run's data (CodecOptions), the tokens that start and
// end a generation (StartToken, StopTokens), a sample's file suffix, and
// the bundled sample of each built-in modality (BundledSample).
package session
