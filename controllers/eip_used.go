package controllers

import (
	"cmp"
	"fmt"
	"net/netip"
	"strings"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eipused"
)

// The forms of an Eip's status.used (--eip-status-used).
const (
	// UsedAuto writes status.used, OpenELB's map, while it costs at most
	// MaxBytes, and status.usedCompact when it would cost more.
	UsedAuto = "auto"
	// UsedFull always writes the map; an Eip's status writes then fail
	// once the map outgrows etcd's request limit.
	UsedFull = "full"
	// UsedCompact always writes status.usedCompact.
	UsedCompact = "compact"
)

// DefaultUsedMaxBytes is what UsedAuto lets status.used cost before it
// switches to the compact form: a third of etcd's 1.5 MiB request limit,
// which every write of the Eip must fit in whole (the map, the API
// server's managedFields entry for each of its keys, status.vrids,
// conditions, metadata). It is about 9,000 addresses whose Services are
// named like "team-07/web-12345"; the cost is measured, not counted in
// addresses, because Service names run from a few characters to 127.
// Below it KubeSphere's console and OpenELB's scripts, which read the
// map, see it as they always did.
const DefaultUsedMaxBytes = 512 << 10

// UsedForm says which form of status.used the Eip reconciler writes.
type UsedForm struct {
	// Mode is UsedAuto, UsedFull or UsedCompact; empty means UsedAuto.
	Mode string
	// MaxBytes is what UsedAuto lets the map cost (usedBytes); zero
	// means DefaultUsedMaxBytes. An Eip written in the compact form gets
	// the map back only once it costs a tenth less, so that one
	// hovering at the limit does not switch forms with every write.
	MaxBytes int
}

// ParseUsedMode checks a --eip-status-used value.
func ParseUsedMode(s string) (string, error) {
	switch s {
	case "", UsedAuto:
		return UsedAuto, nil
	case UsedFull, UsedCompact:
		return s, nil
	}
	return "", fmt.Errorf("eip status used form %q: want %s, %s or %s", s, UsedAuto, UsedFull, UsedCompact)
}

// compact reports whether an Eip whose map would cost size bytes is
// written in the compact form; now says whether its status has that
// form today.
func (f UsedForm) compact(size int, now bool) bool {
	switch f.Mode {
	case UsedFull:
		return false
	case UsedCompact:
		return true
	}
	limit := cmp.Or(f.MaxBytes, DefaultUsedMaxBytes)
	if now {
		limit -= limit / 10
	}
	return size > limit
}

// usedBytes is what a status.used map costs in the stored Eip: each
// entry as JSON ("address":"keys",) and the managedFields entry the API
// server keeps for its key ("f:address":{},).
func usedBytes(m map[string]string) int {
	n := 0
	for k, v := range m {
		n += 2*len(k) + len(v) + 14
	}
	return n
}

// fill writes the addresses in use into st, in the form f and the Eip's
// current status (prev) call for. base is the pool's first address, which
// the compact form counts from; without it the map is written.
func (f UsedForm) fill(st *v1alpha2.EipStatus, prev *v1alpha2.EipStatus, used map[netip.Addr][]string, base netip.Addr) {
	if len(used) == 0 {
		return
	}
	full := make(map[string]string, len(used))
	for a, keys := range used {
		full[a.String()] = strings.Join(keys, ";")
	}
	if !base.IsValid() || !f.compact(usedBytes(full), prev.UsedCompact != nil) {
		st.Used = full
		return
	}
	addrs := make([]netip.Addr, 0, len(used))
	for a := range used {
		addrs = append(addrs, a)
	}
	c, rest := eipused.Encode(base, addrs)
	st.UsedCompact = &c
	for _, a := range rest {
		if st.Used == nil {
			st.Used = map[string]string{}
		}
		st.Used[a.String()] = full[a.String()]
	}
}
