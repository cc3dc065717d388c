// Package plots draws the PNG figures mambakit writes (a run's
// curves.png, a comparison's bar charts and curves) in one style, so that
// they show the differences they exist to show:
//
//   - Ticks labels every tick with as many digits as it takes for no two
//     labels of an axis to be the same and for each to read back as its
//     value; gonum's default ticks round them (4.05 → "4").
//   - Panel.Bars draws bars from zero, with ± std error bars and a dot per
//     seed from two seeds up, and writes each bar's value on it.
//   - Panel.AddRef draws a reference (a Markov baseline) as a dashed line
//     labelled in the right margin.
//   - A Figure stacks its panels, puts its legend in a row below them
//     (never over data) and carries a title naming the run or comparison.
package plots
