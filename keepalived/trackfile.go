package keepalived

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/herald-lb/herald/internal/atomicfile"
)

// Track-file values: keepalived reads a weight-0 track file as healthy when
// it holds 0 and as failed (the instance goes to FAULT and drops the VIP)
// otherwise.
const (
	trackReady    = "0\n"
	trackNotReady = "1\n"
)

// WriteTrackFile records whether this node may hold vip, an
// externalTrafficPolicy Local VIP: ready (a ready local endpoint) writes 0,
// not ready writes 1 and puts the instance in FAULT within milliseconds,
// with no reload. It writes a temp file in dir and renames it over the
// track file, which keepalived (watching the directory for close-after-
// write and moves) reads once, whole. An unchanged value is not rewritten.
// dir must exist before keepalived loads a config naming it: keepalived
// drops track files whose directory is missing, and the VIP would then be
// held regardless of endpoints.
func WriteTrackFile(dir string, vip netip.Addr, ready bool) error {
	want := []byte(trackNotReady)
	if ready {
		want = []byte(trackReady)
	}
	path := TrackFilePath(dir, vip)
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, want) {
		return nil
	}
	if err := atomicfile.Write(path, want, 0o644); err != nil {
		return fmt.Errorf("vip %s: track file: %w", vip, err)
	}
	return nil
}

// PruneTrackFiles removes the track files in dir of VIPs not in keep. Call
// it only for VIPs whose instances have left keepalived's running config:
// keepalived reads a deleted track file as 0, healthy, so removing a live
// Local VIP's file would let this node hold it without an endpoint. Files
// Herald did not write are left alone.
func PruneTrackFiles(dir string, keep []netip.Addr) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("prune track files: %w", err)
	}
	live := make(map[netip.Addr]bool, len(keep))
	for _, a := range keep {
		live[a.Unmap()] = true
	}
	var errs []error
	for _, e := range entries {
		a, err := netip.ParseAddr(e.Name())
		if err != nil || !e.Type().IsRegular() || a.String() != e.Name() || live[a] {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("vip %s: remove track file: %w", a, err))
		}
	}
	return errors.Join(errs...)
}
