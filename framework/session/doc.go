// Package session joins a started modality plugin and the dataset it
// prepared: what training, evaluation and the Markov baseline need from the
// plugin side. Open prepares inputs through the plugin (reusing a cached
// dataset) and loads both splits as train.Data, with their units per token;
// OpenNewRun and OpenRun do the same for a new run (the bundled sample when
// no inputs are given) and a resumed one, owning the plugin they start;
// Session.Run builds the train.Run whose samples the plugin decodes,
// restarting it once if it crashed. OpenCheckpoint places a trained model
// on its device beside its run's plugin, for eval (EvaluateFiles), score
// (Score, a CSV row per token) and generate (Generate). The helpers beside
// them turn a modality's description into what the host needs: the options
// that encode and decode like a run's data (CodecOptions), the tokens that
// start and end a generation (StartToken, StopTokens), a sample's file
// suffix, and the bundled sample of each built-in modality (BundledSample).
package session
