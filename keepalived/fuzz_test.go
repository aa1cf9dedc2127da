package keepalived

import (
	"errors"
	"testing"
)

// FuzzParseVRIDPool: operator input never panics, and an accepted pool is
// never empty nor holds VRID 0.
func FuzzParseVRIDPool(f *testing.F) {
	for _, s := range [][2]string{{"1-255", ""}, {"100-110", "1-10,50"}, {"7", "7"}, {"-", ","}, {"1-2-3", "09"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, rng, excl string) {
		p, err := ParseVRIDPool(rng, excl)
		if err != nil {
			if !errors.Is(err, ErrInvalidVRIDSpec) {
				t.Fatalf("ParseVRIDPool(%q, %q) error %v does not wrap ErrInvalidVRIDSpec", rng, excl, err)
			}
			return
		}
		if p.Size() < 1 || p.Size() > 255 || p.Contains(0) {
			t.Fatalf("ParseVRIDPool(%q, %q): size %d, has 0: %v", rng, excl, p.Size(), p.Contains(0))
		}
	})
}

// FuzzParseNotification: whatever keepalived writes, parsing never panics,
// and a parsed line names an instance Herald renders.
func FuzzParseNotification(f *testing.F) {
	for _, s := range []string{`INSTANCE "vip_192.0.2.1" MASTER 254`, `INSTANCE "vip_2001:db8::1" FAULT 0`, `GROUP "g" BACKUP`, `INSTANCE "`, `INSTANCE "" `} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		n, err := ParseNotification(line)
		if err != nil {
			return
		}
		if a, ok := ParseInstanceName(InstanceName(n.VIP)); !ok || a != n.VIP {
			t.Fatalf("%q parsed to %s, which is no instance name of ours", line, n.VIP)
		}
	})
}
