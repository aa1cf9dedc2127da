package eippool

import "net/netip"

// Usable reports whether the pool may hand a out: with spec.avoidBuggyIPs,
// an IPv4 address ending in .0 or .255 is never handed out, because old
// equipment drops traffic to such addresses as smurf protection. IPv6 pools
// have no such addresses. An address held before the field was set stays
// with its Service; Usable only governs what is handed out next.
func (p Pool) Usable(a netip.Addr) bool {
	if !p.AvoidBuggyIPs || !a.Is4() {
		return true
	}
	last := a.As4()[3]
	return last != 0 && last != 255
}

// UsableSize is how many addresses of the pool may be handed out: the
// size of its range, less the .0 and .255 addresses when AvoidBuggyIPs is
// set. It is what status.poolSize and kubectl get eip's TOTAL show.
func (p Pool) UsableSize() uint64 {
	size := p.Range.Size()
	if !p.AvoidBuggyIPs || !p.Range.Is4() {
		return size
	}
	first, last := ipv4Int(p.Range.First()), ipv4Int(p.Range.Last())
	buggy := countLastOctet(first, last, 0) + countLastOctet(first, last, 255)
	return size - buggy
}

func ipv4Int(a netip.Addr) int64 {
	b := a.As4()
	return int64(b[0])<<24 | int64(b[1])<<16 | int64(b[2])<<8 | int64(b[3])
}

// countLastOctet counts the x in [first, last] whose last octet is octet.
func countLastOctet(first, last, octet int64) uint64 {
	upTo := func(n int64) int64 {
		if n < octet {
			return 0
		}
		return (n-octet)/256 + 1
	}
	return uint64(upTo(last) - upTo(first-1))
}
