package keepalived

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestOverrideValidate(t *testing.T) {
	d := func(v time.Duration) *time.Duration { return &v }
	on := true
	for _, tc := range []struct {
		name string
		o    Override
		want string // "" for valid
	}{
		{"nothing", Override{}, ""},
		{"fast adverts", Override{AdvertInterval: 100 * time.Millisecond}, ""},
		{"slowest", Override{AdvertInterval: 40950 * time.Millisecond}, ""},
		{"too slow", Override{AdvertInterval: 41 * time.Second}, "advert interval"},
		{"not centiseconds", Override{AdvertInterval: 105 * time.Millisecond}, "advert interval"},
		{"negative advert", Override{AdvertInterval: -time.Second}, "advert interval"},
		{"preempt delay", Override{PreemptDelay: d(time.Minute)}, ""},
		{"zero preempt delay", Override{PreemptDelay: d(0)}, ""},
		{"preempt delay too long", Override{PreemptDelay: d(1001 * time.Second)}, "preempt delay"},
		{"unicast", Override{Unicast: &on}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalidConfig)):
				t.Errorf("Validate: %v, want an ErrInvalidConfig about %q", err, tc.want)
			}
		})
	}
}

// TestRenderRefusesBadOverride: a bad override refuses the whole config on
// every node, whether or not the node takes part in the VIP, like any
// other error about a VIP.
func TestRenderRefusesBadOverride(t *testing.T) {
	for _, node := range []string{"node-a", "node-z"} {
		c := Config{Node: node, Settings: DefaultSettings(), VIPs: []VIP{{
			Addr: netip.MustParseAddr("192.0.2.1"), VRID: 1, Interface: "eth0", Ranked: []string{"node-a"},
			Override: Override{AdvertInterval: time.Minute},
		}}}
		if _, err := Render(c); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "vip 192.0.2.1") {
			t.Errorf("%s: Render = %v, want an ErrInvalidConfig naming the VIP", node, err)
		}
	}
}
