package eipused

import (
	"encoding/binary"
	"net/netip"
)

// offset is how far a lies after base, when both are of one family, a is
// not before base and the distance fits in 64 bits.
func offset(base, a netip.Addr) (uint64, bool) {
	if !base.IsValid() || !a.IsValid() || base.Is4() != a.Is4() || a.Zone() != "" || a.Less(base) {
		return 0, false
	}
	if a.Is4() {
		return uint64(u32(a) - u32(base)), true
	}
	ahi, alo := u128(a)
	bhi, blo := u128(base)
	lo := alo - blo
	borrow := uint64(0)
	if alo < blo {
		borrow = 1
	}
	if ahi-bhi-borrow != 0 {
		return 0, false
	}
	return lo, true
}

// nth is the address off positions after base, if its family has one.
func nth(base netip.Addr, off uint64) (netip.Addr, bool) {
	if base.Is4() {
		v := uint64(u32(base)) + off
		if off > 1<<32 || v > 1<<32-1 {
			return netip.Addr{}, false
		}
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(v))
		return netip.AddrFrom4(b), true
	}
	hi, lo := u128(base)
	sum := lo + off
	if sum < lo {
		if hi == 1<<64-1 {
			return netip.Addr{}, false
		}
		hi++
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], sum)
	return netip.AddrFrom16(b), true
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func u128(a netip.Addr) (hi, lo uint64) {
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}
