//go:build race

package main

// raceEnabled builds the command under test with -race too when the tests
// run with it, so races in the command itself fail the test.
const raceEnabled = true
