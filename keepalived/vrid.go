package keepalived

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// ErrVRIDsExhausted marks an assignment that left some addresses without a
// VRID because the pool has no free one in their family. The controller
// sets a condition and an event on their Eips; the addresses that did get
// one are served.
var ErrVRIDsExhausted = errors.New("vrid pool exhausted")

// ExhaustedError lists the addresses AssignVRIDs could not give a VRID.
type ExhaustedError struct {
	// Addrs are the addresses without a VRID, sorted.
	Addrs []netip.Addr
	// PoolSize is how many VIPs per family the pool serves.
	PoolSize int
}

// Error names every address left out, so the event says which Services
// are not served and why.
func (e *ExhaustedError) Error() string {
	names := make([]string, len(e.Addrs))
	for i, a := range e.Addrs {
		names[i] = a.String()
	}
	return fmt.Sprintf("%v: the pool serves %d VIPs per address family; no VRID for %s",
		ErrVRIDsExhausted, e.PoolSize, strings.Join(names, ", "))
}

// Is makes errors.Is(err, ErrVRIDsExhausted) true.
func (e *ExhaustedError) Is(target error) bool { return target == ErrVRIDsExhausted }

// AssignVRIDs gives every VIP address in use a VRID from pool and is the
// only place VRIDs come from: herald-controller calls it and persists the
// result where operators can read it (the owning Eip's status, address →
// VRID); speakers only read that.
//
// current is the persisted assignment. An entry stays exactly as it is
// while it is valid: its address is in use, its VRID is in the pool, and no
// other address of the same family holds the same VRID — changing a live
// instance's VRID leaves its VIP unheld for a master-down interval. Of
// addresses sharing a VRID (only a hand edit or two writers can cause it)
// the lowest address keeps it, so the outcome never depends on map order.
// Entries for addresses no longer in use are dropped, freeing their VRIDs.
// Every other address gets the lowest free VRID of its family, lowest
// address first. IPv4 and IPv6 are separate VRID spaces. IPv4-mapped IPv6
// addresses count as IPv4.
//
// The result is deterministic in its inputs and a fixed point: passing it
// back as current returns it unchanged. When the pool runs out, the result
// still holds every address that got a VRID and the error is an
// *ExhaustedError naming the rest.
func AssignVRIDs(inUse []netip.Addr, current map[netip.Addr]VRID, pool VRIDPool) (map[netip.Addr]VRID, error) {
	addrs := make([]netip.Addr, 0, len(inUse))
	for _, a := range inUse {
		if a.IsValid() {
			addrs = append(addrs, a.Unmap())
		}
	}
	slices.SortFunc(addrs, netip.Addr.Compare) // IPv4 sorts before IPv6
	addrs = slices.Compact(addrs)

	out := make(map[netip.Addr]VRID, len(addrs))
	var taken [2][256]bool // per family: 0 IPv4, 1 IPv6
	for _, a := range addrs {
		if v, ok := lookupCurrent(current, a); ok && v != 0 && pool.Contains(v) && !taken[family(a)][v] {
			out[a] = v
			taken[family(a)][v] = true
		}
	}
	var left []netip.Addr
	var next [2]int // the lowest VRID not yet tried, per family
	for _, a := range addrs {
		if _, ok := out[a]; ok {
			continue
		}
		f := family(a)
		for next[f] < 256 && (next[f] == 0 || !pool.Contains(VRID(next[f])) || taken[f][next[f]]) {
			next[f]++
		}
		if next[f] == 256 {
			left = append(left, a)
			continue
		}
		out[a] = VRID(next[f])
		taken[f][next[f]] = true
	}
	if len(left) > 0 {
		return out, &ExhaustedError{Addrs: left, PoolSize: pool.Size()}
	}
	return out, nil
}

// lookupCurrent finds a's persisted VRID, also under its IPv4-mapped form,
// so a controller that once stored ::ffff:a.b.c.d keeps its VRID. When both
// forms are present the plain one wins.
func lookupCurrent(current map[netip.Addr]VRID, a netip.Addr) (VRID, bool) {
	if v, ok := current[a]; ok {
		return v, true
	}
	if a.Is4() {
		v, ok := current[netip.AddrFrom16(a.As16())]
		return v, ok
	}
	return 0, false
}

// family indexes the per-family VRID spaces: 0 for IPv4, 1 for IPv6.
func family(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}
