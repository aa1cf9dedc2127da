// Package eipused reads and writes what an Eip's status says is in use:
// status.used, one entry per address with its Services, as OpenELB
// writes it, or status.usedCompact, runs of addresses without their
// Services.
//
// The compact form exists because status.used stops fitting in one etcd
// request (1.5 MiB) near 50,000 addresses in use, and a status write
// that fails leaves every field stale, VRIDs and conditions included. A
// run costs two varints, so an Eip whose addresses were handed out lowest
// first, as the allocator does, takes a dozen bytes whatever its usage.
//
// Nothing the controller restores depends on the Services' names in it:
// the Services' own status.loadBalancer says who holds what. Only Services
// made Herald's by a MetalLB migration opt-in consult the Eips' status, to
// tell an address Herald gave from one another load balancer gave
// (controllers.State's restore explains what it does when the compact form
// can say that the address was Herald's, but not to whom).
package eipused
