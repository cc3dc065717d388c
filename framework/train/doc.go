// Package train trains, evaluates and samples one Mamba model
// (framework/backbone) on a tokenized dataset, on the CPU or a GPU.
//
// The model seam is Model (model.go): what training, evaluation, scoring
// and generation need of a model on a device. NewModel places a
// backbone.Model on the CPU (the Go kernels) or a CUDA GPU
// (framework/cudamodel); OpenModel places a checkpoint. Evaluate, Score
// and Generate take a Model, so each exists once for both devices.
//
// A Run (run.go) is one training run in a directory: Start and Resume
// drive the loop (optimizer steps with gradient accumulation and
// clipping, periodic evaluation, samples and checkpoints, metrics.jsonl and
// curves.png); resuming from a checkpoint computes exactly what the
// uninterrupted run would have. Data and Loader (data.go) cut a token
// stream into batches; Config (config.go) holds the settings;
// MarkovBaseline holds a model against framework/markov. On several GPUs,
// framework/distributed makes the process one rank of a data-parallel job.
package train
