package vipdir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"sync"

	"github.com/herald-lb/herald/internal/atomicfile"
	"github.com/herald-lb/herald/keepalived"
)

// States maps each VIP instance on this node to its last reported state.
type States map[netip.Addr]keepalived.State

// Apply records n and reports whether the map changed: a DELETED instance
// leaves the map, any other state replaces the VIP's entry.
func (s States) Apply(n keepalived.Notification) bool {
	vip := n.VIP.Unmap()
	old, had := s[vip]
	if n.State == keepalived.StateDeleted {
		delete(s, vip)
		return had
	}
	s[vip] = n.State
	return !had || old != n.State
}

// Stopped marks every VIP STOP, for when keepalived has exited: a crashed
// keepalived writes nothing on its way out, so its last MASTER lines would
// otherwise claim VIPs nobody holds. It returns the VIPs whose entry
// changed, sorted.
func (s States) Stopped() []netip.Addr {
	var changed []netip.Addr
	for vip, st := range s {
		if st != keepalived.StateStop {
			s[vip] = keepalived.StateStop
			changed = append(changed, vip)
		}
	}
	slices.SortFunc(changed, netip.Addr.Compare)
	return changed
}

// file is state.json's layout; encoding/json sorts the keys, so equal
// states write equal bytes.
type file struct {
	VIPs States `json:"vips"`
}

// Write replaces the state file at path with s, atomically: it writes a
// temp file in the same directory and renames it over path, so a reader
// never sees a partial file.
func Write(path string, s States) error {
	if s == nil {
		s = States{}
	}
	data, err := json.Marshal(file{VIPs: s})
	if err != nil {
		return fmt.Errorf("vip state %s: %w", path, err)
	}
	if err := writeAtomic(path, data); err != nil {
		return fmt.Errorf("vip state %s: %w", path, err)
	}
	return nil
}

// writeAtomic replaces path with data and a newline, so that the other
// side of the directory never reads a partial file.
func writeAtomic(path string, data []byte) error {
	return atomicfile.Write(path, append(data, '\n'), 0o644)
}

// ErrNoState marks a missing state file: no supervisor has run on this node
// (or not yet), so this node holds no VIP.
var ErrNoState = errors.New("no vip state file")

// Read reads the state file at path, as the speaker does.
func Read(path string) (States, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("vip state %s: %w", path, ErrNoState)
	}
	if err != nil {
		return nil, fmt.Errorf("vip state %s: %w", path, err)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("vip state %s: %w", path, err)
	}
	if f.VIPs == nil {
		f.VIPs = States{}
	}
	return f.VIPs, nil
}

// Recorder owns one node's States and keeps the file at Path up to date;
// the FIFO reader and the supervisor's event reports call it from their
// own goroutines.
type Recorder struct {
	// Path is the state file, usually <dir>/state.json.
	Path string

	mu     sync.Mutex
	states States
}

// Reset forgets every state and writes an empty file: a supervisor starts
// its own keepalived, which reports every instance afresh, so what a
// previous run wrote no longer holds.
func (r *Recorder) Reset() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = States{}
	return Write(r.Path, r.states)
}

// Notify applies n and writes the file when the map changed.
func (r *Recorder) Notify(n keepalived.Notification) error {
	return r.update(func(s States) bool { return s.Apply(n) })
}

// Stopped marks every VIP STOP and writes the file when that changed
// anything; call it when keepalived has exited. It returns the VIPs that
// changed, so that their metrics can follow.
func (r *Recorder) Stopped() ([]netip.Addr, error) {
	var changed []netip.Addr
	err := r.update(func(s States) bool {
		changed = s.Stopped()
		return len(changed) > 0
	})
	return changed, err
}

// States returns a copy of the current map.
func (r *Recorder) States() States {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(States, len(r.states))
	for k, v := range r.states {
		out[k] = v
	}
	return out
}

func (r *Recorder) update(apply func(States) bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.states == nil {
		r.states = States{}
	}
	if !apply(r.states) {
		return nil
	}
	return Write(r.Path, r.states)
}
