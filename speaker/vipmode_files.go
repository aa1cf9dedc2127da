package speaker

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"

	"github.com/herald-lb/herald/internal/atomicfile"
)

// FileConfigSink writes keepalived.conf to Path, in the host directory the
// speaker shares with the supervisor.
type FileConfigSink struct {
	Path string
}

// WriteConfig replaces the file atomically: a temp file in the same
// directory, written and fsynced, renamed over Path, and the directory
// fsynced. The supervisor, which may look at any moment, never reads half
// a config, and after a crash of the node the file is the old config or
// the new one. Content equal to the file's is not written at all, so a
// restarted speaker that renders what is there wakes nobody.
func (s FileConfigSink) WriteConfig(conf []byte) error {
	if have, err := os.ReadFile(s.Path); err == nil && bytes.Equal(have, conf) {
		return nil
	}
	if err := atomicfile.Write(s.Path, conf, 0o644); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// trackFileAddrs are the VIPs that have a track file in dir, as
// keepalived.TrackFilePath names them; a missing or unreadable directory
// has none.
func trackFileAddrs(dir string) map[netip.Addr]bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	out := map[netip.Addr]bool{}
	for _, e := range entries {
		if a, err := netip.ParseAddr(e.Name()); err == nil && a.String() == e.Name() && e.Type().IsRegular() {
			out[a] = true
		}
	}
	return out
}
