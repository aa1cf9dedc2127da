package eipused

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// Recorded is what Eips' status says is in use: by address, the Services
// status.used names, and the runs of status.usedCompact, which name none.
// The zero value records nothing.
type Recorded struct {
	named map[netip.Addr][]string
	// runs holds one Eip's decoded runs per element; Eips' runs may
	// overlap when their statuses are stale, so each is searched alone.
	runs [][]Span
}

// Add records one Eip's status. A compact form that does not decode is
// left out and reported; status.used is recorded anyway.
func (r *Recorded) Add(st *v1alpha2.EipStatus) error {
	for text, keys := range st.Used {
		if a, err := netip.ParseAddr(text); err == nil {
			if r.named == nil {
				r.named = map[netip.Addr][]string{}
			}
			r.named[a] = append(r.named[a], strings.Split(keys, ";")...)
		}
	}
	spans, err := Decode(st.UsedCompact)
	if err != nil {
		return fmt.Errorf("status.usedCompact: %w", err)
	}
	if len(spans) > 0 {
		r.runs = append(r.runs, spans)
	}
	return nil
}

// Holders returns the Services status.used names for a; none when only
// status.usedCompact records it.
func (r *Recorded) Holders(a netip.Addr) []string { return r.named[a] }

// InUse reports whether either form records a.
func (r *Recorded) InUse(a netip.Addr) bool {
	if _, ok := r.named[a]; ok {
		return true
	}
	for _, spans := range r.runs {
		if Contains(spans, a) {
			return true
		}
	}
	return false
}
