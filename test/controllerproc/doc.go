// Package controllerproc runs the real herald-controller binary as an OS
// process for tests and benchmarks that must see what an operator sees: a
// separate address space, a real kubeconfig, leader election through a
// Lease, and a process that can die at any instruction (SIGKILL) or shut
// down cleanly (SIGTERM).
//
// An in-process manager, as the controllers' own envtest suite uses, cannot
// show what a restart really does (state lost mid-reconcile, a Lease left
// to expire) nor how much memory the controller needs, so the soak test and
// the allocation benchmark go through this package instead.
//
// Build compiles ./cmd/herald-controller once per test binary (with -race
// when the test binary itself has the race detector, so a soak under
// `go test -race` checks the controller too), unless
// HERALD_CONTROLLER_BINARY names a prebuilt one. Start runs it with stderr
// captured to a file whose tail is printed when the test fails; every
// process is stopped by its PID when the test ends, and the kernel kills it
// if the test binary dies first, so nothing outlives the test.
package controllerproc
