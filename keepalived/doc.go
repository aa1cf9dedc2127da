// Package keepalived is Herald's VIP mode: `protocol: vip` Eips are served by
// keepalived (VRRP) on the nodes; VRRP elects a holder, the holder puts the
// address on its interface and kube-proxy delivers. This package holds the
// pure parts (VRID assignment, per-VIP ranking and priorities, the
// keepalived.conf renderer) and the supervisor core that drives a keepalived
// process. It is not yet wired into the controller or the speaker.
//
// # One VRRP instance per VIP address
//
// keepalived matches instances across a reload (SIGHUP) by VRID, family,
// interface and unicast/multicast addresses, and an unchanged instance keeps
// its state with no events; changing a live instance's VRID leaves nobody
// holding its VIP for about 3.4 s, and adding a VIP to a master's instance
// splits the brain until every peer has reloaded (testbed-facts §11). So
// every VIP address gets its own instance whose VRID, interface, family and
// address never change while it lives: adding or removing one Service
// rewrites only its own instance, and a reload never disturbs an unrelated
// VIP. One instance is also one address family, which keepalived requires.
//
// # VRIDs come from the controller
//
// AssignVRIDs is the pure function herald-controller calls: it keeps every
// valid existing assignment, gives new addresses the lowest free VRID inside
// the operator's range minus the exclusions (other VRRP on the LAN), with a
// separate space per family, and names the addresses left without one when
// the range is exhausted. The controller persists the result where an
// operator can see it (an Eip status map from address to VRID); speakers
// only read it and never allocate, so all nodes agree and a restart, an
// upgrade or a controller fail-over changes nothing.
//
// # Priorities by ranking
//
// Rank orders a VIP's eligible nodes by rendezvous hashing of node and
// address, so every speaker computes the same order without talking and
// masters spread across nodes; only the first Settings.Participants nodes
// run an instance for the VIP at all, so unicast peer lists and adverts do
// not grow with the cluster. Priorities maps rank to a VRRP priority unique
// per node (254 for the first, 255 being reserved for an address owner), all
// at least 200: the master-down interval, 3×advert + (256−priority)/256×
// advert, is the floor of every failover.
//
// # Process model
//
// keepalived does not run in the speaker's pod: a DaemonSet rollout replaces
// the whole pod, and a VIP must not move when the speaker crashes or is
// upgraded. A separate supervisor DaemonSet (hostNetwork, updateStrategy
// OnDelete, so its pods are replaced only by a planned hand-over) runs a
// Herald supervisor as entrypoint, which starts keepalived and shares a host
// directory with the speaker. The speaker renders keepalived.conf into that
// directory (temp file and rename) and writes the per-VIP track files; the
// supervisor checks each new config with `keepalived -t` (exit 0 and the
// file exists), sends SIGHUP only when the content changed and the check
// passed, keeps a refused config away from keepalived (the old one keeps
// running) and reports it, restarts keepalived with backoff when it dies,
// and reads VRRP states back from notify_fifo. externalTrafficPolicy Local
// uses a weight-0 track_file per VIP: the speaker writes a non-zero value to
// put the instance in FAULT when the node has no ready local endpoint, which
// needs no reload.
//
// keepalived has no authentication for VRRPv3 (which IPv6 and sub-second
// adverts need); unicast mode relies on vrrp_check_unicast_src instead.
package keepalived
