// Package childproc ties child processes' lives to their parent's: the
// plugin host's plugins (go-plugin stops them only on a clean exit), the
// multi-GPU launcher's ranks (which would otherwise keep their GPUs and
// wait on NCCL for ever after the launcher was killed) and the training
// runs of a comparison (stopped with one SIGINT, so that they save a
// checkpoint).
package childproc
