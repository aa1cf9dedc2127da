// Package eippool is the one translation from Eip objects to the validated
// pools the allocator and the speakers consume. The admission webhook runs
// the same Validate and Conflicts functions, so what admission accepts and
// what the controller can use never disagree; and the controller and the
// speakers decide which of the cluster's Eips count with the same Accept,
// so an address is announced under the Eip it was allocated from.
//
// An Eip's bgpAdvertisements are also checked against the BGP objects
// (CheckBGP: BgpConf's community aliases, the BgpPeers' names and AS
// numbers), which the webhook reads and passes in.
//
// Everything here is pure: no clients, no I/O. Errors are field.ErrorLists
// whose messages name the field, the bad value and what would be valid.
package eippool
