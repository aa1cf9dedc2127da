package keepalived

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWriteTrackFile(t *testing.T) {
	dir := t.TempDir()
	for _, vip := range []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")} {
		path := TrackFilePath(dir, vip)
		for _, step := range []struct {
			ready bool
			want  string
		}{{false, "1\n"}, {true, "0\n"}, {true, "0\n"}, {false, "1\n"}} {
			if err := WriteTrackFile(dir, vip, step.ready); err != nil {
				t.Fatalf("vip %s ready=%v: %v", vip, step.ready, err)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != step.want {
				t.Fatalf("vip %s ready=%v: file %q (%v), want %q", vip, step.ready, got, err, step.want)
			}
		}
	}
	// Unchanged values are not rewritten: the file is the same inode.
	vip := netip.MustParseAddr("198.51.100.1")
	if err := WriteTrackFile(dir, vip, true); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(TrackFilePath(dir, vip))
	if err := WriteTrackFile(dir, vip, true); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(TrackFilePath(dir, vip))
	if !os.SameFile(before, after) {
		t.Error("an unchanged value was rewritten")
	}
	if err := WriteTrackFile(filepath.Join(dir, "missing"), vip, true); err == nil {
		t.Error("no error for a missing directory")
	}
	if names := dirNames(t, dir); slices.ContainsFunc(names, func(n string) bool { return n[0] == '.' }) {
		t.Errorf("temp files left: %v", names)
	}
}

func TestPruneTrackFiles(t *testing.T) {
	dir := t.TempDir()
	for _, s := range []string{"192.0.2.1", "192.0.2.2", "2001:db8::1"} {
		if err := WriteTrackFile(dir, netip.MustParseAddr(s), false); err != nil {
			t.Fatal(err)
		}
	}
	for _, other := range []string{"notes.txt", "2001:0db8::2"} { // not Herald's (not canonical)
		if err := os.WriteFile(filepath.Join(dir, other), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := PruneTrackFiles(dir, []netip.Addr{netip.MustParseAddr("::ffff:192.0.2.2")}); err != nil {
		t.Fatal(err)
	}
	if got, want := dirNames(t, dir), []string{"192.0.2.2", "2001:0db8::2", "notes.txt"}; !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
	if err := PruneTrackFiles(filepath.Join(dir, "missing"), nil); err != nil {
		t.Errorf("missing directory: %v", err)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
