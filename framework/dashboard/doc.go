// Package dashboard is the web app of "mambakit serve": it finds the run
// directories (train runs and compare outputs) under the folders it is
// given, and serves their table, their curves (downsampled on the server,
// live over server-sent events while a run grows), their samples, compare
// reports and checkpoints. It is read-only and serves only files inside
// the given folders (os.Root: no "..", no symlink out). docs/dashboard.md.
package dashboard
