package webhook

import "testing"

// TestRenamePath pins the path table: renamed leaves, the exact-only
// spec.conf, and v1alpha2-only fields under a renamed parent, which keep
// their v1alpha2 path.
func TestRenamePath(t *testing.T) {
	for _, tc := range []struct{ kind, in, want string }{
		{"BgpConf", "spec.listenPort", "spec.port"},
		{"BgpConf", "spec.routerId", "spec.routerID"},
		{"BgpConf", "spec.asPerRack[rack-1]", "spec.asPerRack[rack-1]"},
		{"BgpPeer", "spec.conf", "spec.config"},
		{"BgpPeer", "spec.conf.peerAs", "spec.config.peerAs"},
		{"BgpPeer", "spec.conf.neighborAddress", "spec.config.neighborAddress"},
		{"BgpPeer", "spec.conf.authPasswordSecretRef.namespace", "spec.conf.authPasswordSecretRef.namespace"},
		{"BgpPeer", "spec.transport.remotePort", "spec.transport.remotePort"},
		{"Eip", "spec.address", "spec.address"},
	} {
		if got := renamePath(v1alpha1Renames[tc.kind].paths, tc.in); got != tc.want {
			t.Errorf("%s %s: renamed to %s, want %s", tc.kind, tc.in, got, tc.want)
		}
	}
}
