// Package rendezvous is the highest-random-weight hash Herald uses wherever
// every node must reach the same choice among nodes without talking: the
// Layer2 owner of an address (speaker/layer2) and the order of a VIP's VRRP
// participants (keepalived). Each node's weight for an address is a hash of
// the pair; the highest weight wins. Removing a node moves only the choices
// it had won, and the weights are part of the protocol between speakers of
// different versions during a rolling upgrade, so they must never change
// (both users pin them in tests).
package rendezvous

import "net/netip"

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// NodeSeed is FNV-1a 64 of node followed by a 0x00 separator (so that
// "a"+"b…" and "ab"+"…" differ): the state every weight of that node
// starts from, worth computing once per node when many addresses are
// weighed.
func NodeSeed(node string) uint64 {
	h := uint64(fnvOffset64)
	for i := range len(node) {
		h ^= uint64(node[i])
		h *= fnvPrime64
	}
	return h * fnvPrime64 // h ^= 0x00 changes nothing
}

// Weight continues FNV-1a from a node's seed over the address's bytes (4
// for IPv4, IPv4-mapped IPv6 included; 16 for IPv6) and finishes with
// MurmurHash3's fmix64, which spreads the last bytes: FNV-1a alone mixes
// them poorly into the high bits, and consecutive addresses differ only
// there.
func Weight(seed uint64, ip netip.Addr) uint64 {
	h := seed
	for _, b := range ip.Unmap().AsSlice() {
		h ^= uint64(b)
		h *= fnvPrime64
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
