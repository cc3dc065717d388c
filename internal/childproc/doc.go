// Package childproc ties child processes' lives to their parent's: the
// plugin host's plugins (go-plugin stops them only on a clean exit) and the
// multi-GPU launcher's ranks (which would otherwise keep their GPUs and
// wait on NCCL for ever after the launcher was killed).
package childproc
