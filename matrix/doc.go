// Package matrix reads the scenario file (scenarios.yaml), validates it,
// expands a profile's axes into cells and filters them.
//
// A scenario file names profiles; each profile lists the values of every axis
// (engine, pattern, protocol, size, out_batch_size, write_batching, sockets)
// and the workload of one run. [Load] parses and validates the whole file and
// reports every problem at once, each as an [*Error] with file, line and
// column and the values that are allowed. [File.Resolve] turns one profile
// into a [Scenario], whose [Scenario.Cells] is the cross product of its axes in
// [Axes] order. A [Filter] (the --filter flag) narrows a scenario or a list of
// cells.
//
// The package knows nothing of sockets: it only describes what to measure.
package matrix
