// Package soak runs the real herald-controller process through a long,
// seeded stream of Service creates and deletes, requests for addresses
// that are already taken, pool growth and controller restarts (clean
// SIGTERM hand-overs and SIGKILLs that leave the Lease to expire), while
// an observer watches every Service and checks what users rely on: an
// address is never on two Services at once, a Service never loses or
// changes the address it got, and Eip status tells the truth at the end.
package soak
