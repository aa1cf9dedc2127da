package main

import (
	"flag"
	"fmt"

	"github.com/herald-lb/herald/keepalived"
)

// bindVRRPFlags registers the VIP mode's VRID settings. VRIDs come from the
// controller only (the speakers read them from Eip status), so the range
// is a controller flag; the webhook uses the same one for its warning.
func bindVRRPFlags(fs *flag.FlagSet, f *flags) {
	fs.StringVar(&f.vridRange, "vrrp-vrid-range", "1-255",
		"VRRP virtual router IDs herald-controller may give vip Eips' addresses, one per address and family, as first-last")
	fs.StringVar(&f.vridExclude, "vrrp-vrid-exclude", "",
		`VRIDs of the range not to use, because other VRRP routers on the LAN use them, comma-separated ("1-10,50")`)
}

// parseVRRP reads the VRID flags into f.vridPool. A bad value stops the
// controller rather than fall back to the default range, which could take
// the VRIDs of another VRRP router on the LAN.
func (f *flags) parseVRRP() error {
	pool, err := keepalived.ParseVRIDPool(f.vridRange, f.vridExclude)
	if err != nil {
		return fmt.Errorf("--vrrp-vrid-range %q, --vrrp-vrid-exclude %q: %w", f.vridRange, f.vridExclude, err)
	}
	f.vridPool = pool
	return nil
}
