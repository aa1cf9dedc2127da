// Package speaker is herald-speaker's core: on each node it turns what the
// cluster says (Services with allocated addresses, their Eips, their
// endpoints, BgpConf's Service ranges) into what this node must announce,
// per mode, and hands each mode its part. It never allocates.
//
// The decision is one pure function, Compute, over a snapshot of the
// cluster; the reconciler only gathers the snapshot from its caches and
// applies the result. When the API server is unreachable the caches stop
// changing, so the node keeps announcing what it announced.
//
// Besides Herald's load-balancer addresses, a node running BGP advertises
// the Service ranges BgpConf lists in serviceClusterIPs and
// serviceExternalIPs, with Calico's semantics: every node advertises each
// range, so routers spread traffic over the nodes with ECMP, and the
// cluster IPs and external IPs inside them of externalTrafficPolicy Local
// Services of any type are also advertised as host routes, only from the
// nodes with a ready endpoint.
//
// Which nodes announce an Eip at all is its spec.nodeSelector's call, and
// no node labelled node.kubernetes.io/exclude-from-external-load-balancers
// announces anything; each speaker applies both to its own node only
// (nodeselect.go), so the rule costs nothing at rest. Metrics: herald_speaker_announced_addresses
// {mode} counts load-balancer addresses, herald_speaker_announced_prefixes
// {kind} the routes the ranges bring (kind serviceClusterIPs,
// serviceExternalIPs, clusterIP, externalIP).
//
// # VIP mode
//
// `protocol: vip` Eips are served by keepalived (package keepalived), which
// runs in its own DaemonSet under a Herald supervisor, so that a speaker
// crash, restart or upgrade moves no VIP. The speaker's part is
// rendering: Compute turns every vip address in use into one VIPClaim
// (shared addresses combine as Layer2 claims do), the snapshot carries the
// VRIDs the controller assigned (Eip status.vrids, which the cache keeps
// and whose changes wake the reconciler), vipConfig ranks each VIP over
// the eligible live speakers (keepalived.Rank, the same on every node) and
// VIPMode writes keepalived.conf atomically and only on change
// (FileConfigSink), plus the track files of the Local VIPs. VIPMode never
// withdraws: Shutdown leaves keepalived running its last config, and Apply
// writes nothing until this node sees itself among the members.
//
// VIPMode's members come from the speakers' per-node Leases, the ones
// Layer2 mode runs (layer2.NodeLease and Membership): Layer2Mode keeps
// that session running while layer2 or vip pools exist, publishes in this
// node's Lease the layer2 and vip Eips it cannot serve and, while vip
// pools exist, its addresses (for each family the first global unicast
// address on the vip pools' interfaces that is no Herald address;
// layer2.AddressesAnnotation), and Layer2Mode.VIPMembers turns the view
// into VIPMembers. VIPMembers returns nothing until the view has been
// confirmed once, or a lone node would rank itself first for every VIP;
// a view frozen after that is kept, as Layer2 keeps it. No Node object is
// watched for the addresses.
//
// herald-speaker runs VIPMode (cmd/herald-speaker/vip.go): its members
// come from the speakers' per-node Leases (Layer2Mode.VIPMembers; Members
// must return nothing until the view has synced, or a lone node would rank
// itself first for every VIP), its interfaces from
// layer2.ResolveEipInterfaces over the route table and the carrier watch
// (whether an interface exists: carrier loss is keepalived's to handle,
// FAULT within milliseconds, and must not make any speaker re-render),
// its settings from the --vrrp-* flags, which must be equal on all nodes,
// and it writes into --vip-dir, the host directory shared with the
// supervisor (cmd/herald-keepalived, package vipdir). With no vip pool and
// no such directory it writes nothing and is no error: a cluster without
// vip pools need not run the supervisor.
//
// The way back: VIPStateWatcher polls the supervisor's state.json (why
// polling, not inotify, is on the type) and wakes the reconciler when
// this node's keepalived reports a change; VIPMode then writes this node
// into the vip.herald.io/holder annotation of the Services of every VIP
// it is MASTER for, with a VIPHolder event. Only a master writes, at most
// once per Service per 30 s while it stays master (vipHolders: a cache
// that has not caught up costs nothing, and two masters at once, VRRP
// split by the network, cannot fight over it); BACKUP and FAULT write
// nothing, the next master does. The annotation is a report: VRRP moves
// the VIP whatever the speaker does, so a speaker that is down only
// leaves it stale. At rest it costs no API call; each mastership change
// costs one patch and one event per Service of the VIP. Metrics:
// herald_speaker_vip_instances (the instances this node's config runs),
// herald_speaker_vip_master and herald_speaker_vip_state{state} (what its
// keepalived reports).
//
// A config keepalived refuses never reaches it: the supervisor checks every
// candidate with `keepalived -t` and keeps running the last good one. It
// says which config runs and which it refused, with keepalived's words, in
// config.json beside state.json (vipdir), which VIPStateWatcher reads on
// the same poll. VIPMode compares it with the SHA-256 of the config it
// last wrote (vipverdict.go): refused makes Apply fail with keepalived's
// words (the readiness check fails for the vip mode,
// herald_speaker_mode_ready{mode="vip"} is 0, herald_speaker_vip_config_refused
// is 1), and is logged and put as ONE KeepalivedConfigRefused Warning event
// on each vip Eip this node runs instances of, until a later config is
// accepted (a KeepalivedConfigAccepted Normal event on the same Eips, only
// after a refusal). While the refusal lasts those Eips are listed in the
// node's Lease (layer2.VIPConfigRefusedAnnotation, through
// Layer2Mode.SetVIPConfigRefused), from which the controller sets their
// KeepalivedConfigAccepted condition. A config not checked yet is neither; one still
// unchecked after 30 s is logged once, asking whether herald-keepalived
// runs on the node. The Eips' events cost nothing at rest: one per Eip per
// refusal and per recovery, the Eips read from the cache.
//
// # Readiness
//
// The readyz check "announcing" fails until a reconcile has applied a
// snapshot, and then while a mode that has work on this node (an Eip of its
// protocol exists; for BGP, or the BgpConf named default does) fails to
// apply, naming the mode and its error; it passes again with the next
// reconcile in which the mode applies. So a broken build stops a DaemonSet
// rollout on the first node whatever mode it broke, and a BGP failure
// holds up a rollout on a node that serves Layer2 fine only when BGP is
// configured (the node then does not deliver what the cluster asks). A
// mode with nothing to do never makes the node NotReady. Readiness gates
// only rollouts and alerts: no traffic goes through the speaker's Pod.
// herald_speaker_mode_ready{mode} is 1 or 0 for every mode, with work or
// not.
//
// # Locks
//
// Each lock is held only for its own state. The rule that keeps them from
// deadlocking: a lock held around a call that waits for a goroutine
// (Close, Stop) is never taken by anything that goroutine calls.
//
//   - Layer2Mode.mu guards the session, the responders, their kept
//     counters, the owned set and the annotations written. It is held
//     around the session's Stop and the responders' open, SetOwned and
//     Close, and by Collect (the metrics scrape). Stop waits for the Lease
//     and membership goroutines, which never call the mode (they signal on
//     Changed, read by forwardChanges, which nobody waits for); Close waits
//     for the responder's receive goroutine, whose conflict callback takes
//     only conflictMu. VIPMembers (VIPMode.Apply's Members, on the
//     reconciler's goroutine) takes it only to read the session and calls
//     the session's Snapshot after releasing it, as Apply does.
//   - Layer2Mode.conflictMu guards the conflict state (heard, heardCh,
//     frozen). A leaf: conflict takes it on a responder's receive
//     goroutine; Apply and Shutdown take it after mu, never the other way
//     round, and nothing is called while it is held. The mode's Trigger is
//     called after it is released, from that goroutine too, and must not
//     block (the speaker's is a send on a one-slot channel, or nothing).
//   - layer2.Responder.mu guards the owned set and the announcement
//     schedule; frames for owned addresses are sent with it held. The
//     receive goroutines report conflicts outside it, and Close releases it
//     before waiting for its goroutines.
//   - layer2.CarrierWatch.mu and layer2.Membership.mu guard their views;
//     changes are signalled by non-blocking sends on one-slot channels, so
//     their goroutines never wait on a reader. Membership.mu is held while
//     the table asks the Lease lock when this node last wrote its Lease
//     (leaseLock.mu, a leaf).
//   - layer2's leaseLock.io serializes the Lease's API requests (client
//     timeouts bound each); leaseLock.mu, never held during a request,
//     guards what the renewals and the membership share.
//   - bgp.Router.mu guards what was handed to GoBGP and is held around
//     GoBGP calls. GoBGP calls back on goroutines of its own into the log
//     adapter and the peer-event watcher, which take only the peer book's
//     lock (a leaf) and call Options.OnPeerEvent; GoBGP queues events
//     without bound, so the Router never waits for that callback. The
//     speaker's OnPeerEvent logs and pokes BGPStatusWriter.Trigger, a
//     non-blocking send, and hands the event to BGPBFD.PeerEvent.
//   - BGPBFD.applyMu serializes its calls to bfd.Manager.Apply, which
//     waits only for the Manager's loop; BGPBFD.mu (settings, local
//     addresses, states) is a leaf. The Manager's loop never calls out: its
//     state changes reach BGPBFD.OnChange on a goroutine of their own,
//     which takes BGPBFD.mu, then calls Router.ResetPeer (GoBGP directly,
//     not Router.mu) and Trigger.
//   - BGPMode.mu guards the last applied configuration (a leaf);
//     secretCache.mu is held while a Secret is read, and nothing read calls
//     back. BGPStatusWriter keeps its cache on its own goroutine, without a
//     lock.
//   - VIPMode.mu guards the config last written and the problems last
//     logged; it is held while files are written, and nothing under it
//     calls back but vipVerdicts.wrote. vipVerdicts.mu (the verdict last
//     reported and the pending timer) is a leaf: the timer's goroutine
//     takes it after reading the watcher, never under it. The holder annotations are written after it is released;
//     vipHolders.mu (when each Service was last patched) and
//     VIPStateWatcher.mu (the states last read) are leaves, and the
//     watcher pokes the reconciler with a non-blocking send.
//   - Reconciler keeps its readiness in an atomic pointer. Its trigger
//     forwarder blocks only on the controller's source channel, until the
//     manager stops.
package speaker
