// Package controllers holds herald-controller's reconcilers: the Service
// reconciler, which gives LoadBalancer Services their addresses, and the
// Eip reconciler, which reports each pool's usage, guards the deletion of
// pools in use and says when nothing serves a pool's addresses.
//
// Both share one State: the in-memory allocator, restored from the
// Services' status (the source of truth) the first time either reconciler
// runs, which controller-runtime guarantees is after every watched cache
// has synced. Nothing is allocated before that restore. The State is owned
// by one mutex; API writes happen outside it.
//
// Writes per allocation are kept low on purpose: one patch writes
// status.loadBalancer, one Event records it; a deletion costs no write.
// Eip status is written at a bounded rate, however many Services change.
//
// Eip status.used comes in two forms (--eip-status-used, UsedForm):
// OpenELB's map of each address in use to its Services, which KubeSphere's
// console and OpenELB's scripts read, and status.usedCompact, runs of
// addresses without names (internal/eipused), a few bytes whatever the
// usage. The map costs about 56 bytes per address with its managedFields
// entry (Services named like "team-07/web-12345"; TestUsedFormAt60000
// measures it): past about 28,000 addresses the API server drops the
// Eip's managedFields to fit etcd's 1.5 MiB request, past about 44,000
// etcd refuses the write, and a status write that fails leaves the whole
// status stale (usage, conditions, VRIDs). So the default, auto, writes
// the map while it costs at most 512 KiB (about 9,000 addresses;
// --eip-status-used-max-bytes) and the compact form above. Nothing the restore needs is lost with the names:
// every Service's own status.loadBalancer says what it holds; the Eips'
// status is read only for Services Herald serves by a migration opt-in,
// to tell an address Herald gave from one another load balancer gave, and
// the compact form tells that too (State.lockSynced says what it does
// when it cannot tell to which Service).
//
// Finalizers. A finalizer makes its object wait for Herald at deletion,
// so while Herald is down or after it was uninstalled such an object
// cannot be deleted (and deleting the CRDs hangs on such Eips). Each one
// must buy more than that costs.
//
// Services carry none. OpenELB's finalizer.lb.kubesphere.io/v1alpha1
// (LegacyServiceFinalizer) cost one write per allocation and one per
// deletion and protected nothing: the allocator lives in memory and is
// rebuilt from the status of the Services that exist, so a Service deleted
// while the controller runs is released on its delete event, and one
// deleted while it is down is simply absent from the restore; its address
// is free, and a Service created meanwhile gets it only after the restore
// has accounted for every live Service (TestDeleteWhileControllerDown).
// Nor does a Service that stops being a LoadBalancer while the controller
// is down keep a stale address: the API server clears
// status.loadBalancer itself when the type changes
// (TestTypeChangedWhileControllerDown).
// Services that come from OpenELB or an older Herald lose the finalizer
// the first time they are reconciled.
//
// Eips keep OpenELB's finalizer.ipam.kubesphere.io/v1alpha1
// (EipFinalizer), but only while a Service holds one of their addresses:
// deleting a pool in use would leave those Services with an address
// nobody announces, so the Eip waits, Terminating, hands out nothing new
// and says in its Ready condition which Services it waits for. The
// finalizer is added when the first address of the pool is allocated and
// removed when the last is released (one write each time the pool turns
// used or empty, never one per Service), so an Eip nobody uses, including
// one migrated from OpenELB with the finalizer, can be deleted with Herald
// stopped. A few milliseconds separate the first allocation from the
// finalizer: an Eip deleted in that instant goes at once.
//
// Uninstalling. Delete the LoadBalancer Services Herald serves (or move
// them to another implementation) while the controller still runs: it
// releases their addresses and takes the finalizer off every Eip (kubectl
// get eip -o custom-columns=NAME:.metadata.name,F:.metadata.finalizers
// shows none left), and `kubectl delete -f deploy/herald.yaml` then
// removes everything without waiting. The controller cannot do this step
// by itself at uninstall: that deletes its RBAC rules together with the
// CRDs, so it could not write the Eips any more. Should the controller already be gone with Eips still in use,
// their finalizers are removed by hand:
// kubectl patch eip <name> --type=merge -p '{"metadata":{"finalizers":null}}'.
//
// Nothing admitted that nothing serves. When Herald knows that nothing
// will deliver traffic for the addresses of an Eip, the Eip reconciler
// (the one writer of the Ready condition) turns Ready False with a reason
// and the fix in its message, logs one Info line and records a Warning
// event on the Eip and on every Service holding one of its addresses, once
// per change of reason (the condition it wrote is the memory, so a
// restart repeats nothing); a Service allocated from such an Eip later
// gets the Warning with its allocation. The Eip keeps handing out
// addresses, and status.ready stays true: it is valid, and the Services
// get their traffic as soon as the missing piece is added, which turns
// Ready True again with a Normal event on the Eip. The cases:
// NoBgpConf and NoBgpPeer (a bgp Eip while there is no BgpConf "default"
// or no BgpPeer at all; their creation and deletion re-evaluate bgp Eips,
// their updates do not), NoSelectedNode (a bgp Eip no Node may announce:
// spec.nodeSelector matches none, or the ones it matches carry the
// exclude-from-external-load-balancers label; judged from the Nodes'
// metadata the BgpPeer reconciler caches anyway, re-evaluated when a
// Node comes, goes or changes its labels); for a layer2 or vip Eip, the speakers report it:
// while a pool of either protocol exists each leads a Lease
// herald-speaker-<node> in its namespace (--speaker-namespace, the
// controller's own by default) listing the Eips its node cannot serve,
// and the controller follows them (speakerView, the only Leases it
// caches) to find NoLayer2Speakers or NoVIPSpeakers (no such Lease at
// all), NoLiveLayer2Speaker or NoLiveVIPSpeaker (none renewed lately) or
// InterfaceUnavailable (every live node lists the Eip: its interface is
// missing there, or the node's labels leave it out, which the message
// names as possible causes when they apply). Whether keepalived
// runs next to the speakers of a vip Eip it cannot see; the speakers log
// it. A Lease is live while the controller saw its renewTime change
// within twice its duration plus a second, by its own clock; renewals
// cost a table update, and only a change of the answer, or an expiry,
// re-evaluates those Eips. On the happy path none of this adds a write.
//
// The Eip reconciler also tells operators when kube-proxy defeats layer2
// and vip mode: in IPVS mode without strictARP, kube-proxy puts every Service
// address on each node's kube-ipvs0 and every node answers ARP for it.
// It reads kube-proxy's KubeProxyConfiguration where kubeadm keeps it
// (ConfigMap kube-system/kube-proxy, key config.conf; the only ConfigMap
// it caches, see CacheOptions) and sets the KubeProxyCompatible condition
// on layer2 and vip Eips only (the modes in which one node answers ARP
// for an address): False with the fix in the message, a Warning event
// and one log line when IPVS runs without strictARP; True when it runs
// with it, in another mode, or for an IPv6 pool (NDP is not affected);
// Unknown when there is no such ConfigMap (other distributions, or
// kube-proxy replaced; an Unknown condition says that the check could
// not be made, which an absent one would not) or it does not parse.
// Editing the ConfigMap re-evaluates every layer2 and vip Eip at once.
//
// VRIDs. Every address of a vip Eip that a Service holds is served by its
// own keepalived instance, which needs a VRRP virtual router ID unique in
// its address family on the LAN. The controller alone assigns them, with
// keepalived.AssignVRIDs over every address in use of every accepted vip
// Eip, and persists them where operators see them and speakers read them:
// each vip Eip's status.vrids (address → VRID), written in the status
// write the Eip reconciler makes anyway when an allocation changes the
// Eip's status.used, so the happy path adds no write. They are stable
// because changing a live instance's VRID leaves its address unheld for
// seconds: the State seeds its assignment once, at its first use, from
// the union of the vip Eips' status.vrids read from the synced cache
// (before anything is allocated), so a restart, an upgrade or a new leader
// continues the persisted assignment, and AssignVRIDs never changes a
// valid entry. A released address frees its VRID at once, and the next
// address takes the lowest free one, so a speaker must use a VRID only
// for an address a Service holds: the released address's Eip may list it
// for up to one status interval more. IPv4 and IPv6 are numbered
// separately. The operator sets the range, --vrrp-vrid-range (default
// 1-255), and the VRIDs other VRRP routers on the LAN use,
// --vrrp-vrid-exclude (e.g. "1-10,50"); herald-controller refuses to start
// on a bad value, and its webhook admits a vip Eip larger than the range
// with a warning saying how many of its addresses can be served. When the
// range runs out, the addresses left over are allocated without a VRID
// and nothing serves them: the Eip's VRIDsAssigned condition turns False
// (VRIDRangeExhausted, naming them and the fix), with one log line and a
// Warning event on the Eip and on each Service newly left without one; a
// VRID freed in any vip Eip goes to them and turns it True (Assigned)
// again. Only vip Eips carry VRIDs and the condition.
//
// A vip Eip's KeepalivedConfigAccepted condition says whether keepalived
// on every node accepted the config rendered there for its addresses. The
// controller cannot see the nodes' keepalived: each speaker lists the vip
// Eips its keepalived refused in its Lease (vip.herald.io/config-refused,
// one write per refusal and per recovery), and the Eip reconciler, which
// follows those Leases for Ready already, turns it False
// (KeepalivedConfigRefused, naming the live nodes) while any live node
// lists the Eip, True (Accepted) otherwise. The speakers' events on the
// Eip quote keepalived; the condition only gathers the nodes.
//
// The BgpPeer reconciler reports two BgpPeers with one neighbour address
// whose different node selectors both match some node: the speakers run
// only the older one there (internal/bgpconfig.NodePeers, called by both),
// and the younger gets the NeighborShadowed condition, naming the older
// and the nodes, and one Warning event per change. It writes nothing but
// that condition, by server-side apply, beside the speakers' own status.
//
// Metrics (metrics.go): herald_controller_eip_addresses{eip,protocol,state}
// gives each Eip's total, used and free addresses, set from the report its
// status is computed from (so a scrape walks no Services) and removed with
// the Eip; herald_controller_allocations_total{result,reason} counts
// Services that got or gave up addresses and failed allocations by the
// reason their AllocationFailed event names.
package controllers
