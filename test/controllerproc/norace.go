//go:build !race

package controllerproc

// raceEnabled reports whether this binary was built with -race; Build then
// builds the controller with -race too.
const raceEnabled = false
