// Package iprange parses and reasons about the address pools users write in
// Eip.spec.address: a single address, a CIDR or an inclusive "first-last"
// range, IPv4 or IPv6. Every address of a CIDR is part of the pool (the
// network and broadcast addresses too), as in OpenELB.
//
// A Range is a value: comparable, copyable and safe to share. Arithmetic is
// done on 128-bit integers so that IPv6 pools of any size work; sizes that do
// not fit in a uint64 saturate at math.MaxUint64.
package iprange
