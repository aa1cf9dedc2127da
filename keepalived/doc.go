// Package keepalived is Herald's VIP mode: `protocol: vip` Eips are served by
// keepalived (VRRP) on the nodes; VRRP elects a holder, the holder puts the
// address on its interface and kube-proxy delivers. This package holds the
// pure parts (VRID assignment, per-VIP ranking and priorities, the
// keepalived.conf renderer) and the supervisor that drives a keepalived
// process. herald-controller assigns VRIDs with it (controllers/vrid.go);
// cmd/herald-keepalived runs the supervisor over the directory vipdir
// describes, and speaker.VIPMode, which herald-speaker runs, renders into
// it and reads the VRRP states back from it.
//
// # One VRRP instance per VIP address
//
// keepalived matches instances across a reload (SIGHUP) by VRID, family,
// interface and unicast/multicast addresses, and an unchanged instance keeps
// its state with no events; changing a live instance's VRID leaves nobody
// holding its VIP for about 3.4 s, and adding a VIP to a master's instance
// splits the brain until every peer has reloaded (testbed-facts §11). So
// every VIP address gets its own instance, named after the address
// (InstanceName), whose VRID, interface, family and address never change
// while it lives: adding or removing one Service rewrites only its own
// instance, and a reload never disturbs an unrelated VIP
// (TestRenderChangesOnlyWhatChanged). One instance is also one address
// family, which keepalived requires.
//
// # VRIDs come from the controller
//
// AssignVRIDs is the pure function herald-controller calls over every VIP
// address in use: it keeps every valid existing assignment, gives new
// addresses the lowest free VRID inside the operator's range minus the
// exclusions (other VRRP on the LAN; ParseVRIDPool reads "1-255" and
// "1-10,50"), with a separate space per family, and names the addresses
// left without one when the range is exhausted. The controller persists the
// result where operators see it, in each vip Eip's status as a map from
// address to VRID, and passes the union back as the current assignment;
// speakers only read it and never allocate, so all nodes agree and a
// restart, an upgrade or a controller fail-over changes nothing. The
// webhook warns with VRIDPool.Size when a vip Eip holds more addresses than
// the pool can serve.
//
// # Priorities by ranking
//
// Rank orders a VIP's eligible nodes by rendezvous hashing of node and
// address, so every speaker computes the same order without talking and
// masters spread across nodes; only the first Settings.Participants nodes
// (default 3) run an instance for the VIP at all, so adverts and unicast
// peer lists do not grow with the cluster, and a node joining or leaving
// touches only the VIPs it ranks within that cap. PriorityAt maps rank to a
// VRRP priority unique per node: 254 for the first (255 is reserved for an
// address owner), counting down, never below 200, because the master-down
// interval, 3×advert + (256−priority)/256×advert, is the floor of every
// failover. The hash is part of the protocol between speakers of different
// versions during a rolling upgrade (TestRankPinned).
//
// # What Render writes
//
// Render turns one node's Config into keepalived.conf: router_id is the
// node, GARPs are refreshed every minute while master, VRRP states go to
// notify_fifo also on reloads, and an instance a reload removes reports
// DELETED rather than FAULT (notify_deleted). Instances preempt by
// priority and start BACKUP, except on a VIP's first-ranked node when no
// preempt delay is set: it gets OwnerPriority and `state MASTER`, which
// keepalived honours at once, so a new VIP is served in milliseconds
// rather than after a master-down interval. `vrrp_version 3` is set globally only for sub-second adverts:
// IPv6 instances run VRRPv3 anyway, and flipping the version of every IPv4
// instance when the first IPv6 VIP appears would disturb them all. In
// unicast mode each instance sends to the other participants and accepts
// adverts only from them (vrrp_check_unicast_src), and faults rather than
// fall back to multicast when it has no peer (unicast_fault_no_peer),
// except for a VIP only this node may hold. externalTrafficPolicy Local
// VIPs track a weight-0 file per VIP (WriteTrackFile): 1 puts the instance
// in FAULT within milliseconds, without a reload; a missing file is created
// as 1, so a new Local VIP stays off a node until its speaker has seen a
// ready endpoint.
//
// # Process model
//
// keepalived does not run in the speaker's pod: a DaemonSet rollout replaces
// the whole pod, and a VIP must not move when the speaker crashes or is
// upgraded. A separate supervisor DaemonSet (hostNetwork, NET_ADMIN and
// NET_RAW, updateStrategy OnDelete so its pods are replaced only in a
// planned hand-over) runs a Herald supervisor as entrypoint, which starts
// keepalived (Exec) and shares a host directory with the speaker. The
// speaker renders keepalived.conf into that directory (temp file and
// rename) and writes the track files; the Supervisor checks each new config
// with `keepalived -t` (exit 0 and the file exists), installs it as the file
// keepalived reads and sends SIGHUP only when the content changed and the
// check passed, keeps a refused config away from keepalived (the old one
// keeps running, also across a crash) and reports it, to its log and
// metrics and, as a Verdict, back to the speaker (vipdir's config.json:
// the speaker then fails its readiness and puts a Warning event on the
// Eips), restarts keepalived with backoff when it dies, and reads VRRP
// states back from notify_fifo (OpenNotifyFIFO, ReadNotifications) into
// Metrics. PollChanges nudges it
// when the speaker renames a new config into place. On a planned stop
// keepalived sends priority-0 adverts and a backup takes over within
// ~0.6 s.
//
// keepalived never outlives its supervisor: Exec starts it with a
// parent-death SIGTERM (it stops gracefully when the supervisor is killed)
// in a process group of its own, which is killed as a whole once the
// parent has exited, so no VRRP child survives. A keepalived killed
// outright leaves its VIPs on the interface, and the node answers for
// them beside the new master; the supervisor removes them (ConfigVIPs,
// AddressRemover: exact /32 and /128 matches of the configs keepalived
// ran, nothing else) when keepalived exits and, for the Live file a
// previous run left, before keepalived first starts.
//
// keepalived has no authentication for VRRPv3 (which IPv6 and sub-second
// adverts need); unicast mode relies on vrrp_check_unicast_src instead.
package keepalived
