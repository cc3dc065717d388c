// Package compare runs a grid of training runs and writes a report of
// them, or writes the report of runs trained before.
//
// A spec (docs/compare.md) names modalities, SSM variants, seeds and a
// budget of training settings; a budget setting given as a list is an axis
// of the grid (learning rate, width, depth, state size, context, steps...).
// Every combination is one run: one `mambakit train` process in its own
// directory, its progress streamed with the run's name in front, stopped
// with a checkpoint on Ctrl-C and resumed by the same command.
//
// The report gives validation bits per unit per modality, setting and
// variant beside the modality's best Markov baseline, the gain of
// selection over the best LTI variant (the continuous–discrete spectrum of
// Gu and Dao 2023, Section 5), learning curves, wall time and tokens/s.
// ReadRuns builds the same report from existing run directories, grouping
// them by the settings that differ.
package compare
