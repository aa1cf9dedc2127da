// Package eippool is the one translation from Eip objects to the validated
// pools the allocator and the speakers consume. The admission webhook runs
// the same Validate and Conflicts functions, so what admission accepts and
// what the controller can use never disagree.
//
// Everything here is pure: no clients, no I/O. Errors are field.ErrorLists
// whose messages name the field, the bad value and what would be valid.
package eippool
