// Package layer2 is the speaker's Layer2 mode machinery: which node
// answers ARP/NDP for each address of a layer2 Eip, and the packet layer
// that answers. speaker.Layer2Mode ties them together on every reconcile:
// it resolves each pool's interface (spec.interface or can_reach:<ip>)
// and its carrier, publishes the pools this node cannot serve in its
// Lease, assigns every claimed address with AssignOwners over the
// membership view, hands each interface's Responder the addresses this
// node won, and records the owner in the Service annotation
// layer2.openelb.kubesphere.io/v1alpha1 with an event when it changes.
//
// The Leases and the membership view serve VIP mode too: it ranks the
// known speakers for each VIP (Members.Known: live, or renewed or
// released within KnownTTL, five minutes by default;
// speaker.Layer2Mode.VIPMembers feeds speaker.VIPMode), so the session
// runs while layer2 or vip Eips exist, and a speaker's Lease also lists
// the vip Eips it cannot serve and its addresses (see Availability and
// Addresses below). Known, not live, because keepalived outlives its
// node's speaker: a speaker that crashes, restarts or is upgraded must
// leave every VIP's ranking as it was, and VRRP finds dead nodes itself.
//
// The end-to-end suite (test/e2e TestLayer2) checks it against the real
// Linux neighbour tables of a client: the address resolves to the owner's
// MAC and curl answers; Local Services are owned by a node with endpoints;
// two Services sharing an address have one responder; the client follows
// a new owner after SIGKILL (about 1.2 s), link loss and a planned stop
// (about 70 ms); IPv6 through NDP.
//
// Liveness. While at least one layer2 or vip Eip exists (a cluster that
// uses BGP alone renews no Lease and watches none), each speaker runs client-go
// leaderelection on a Lease of its own, herald-speaker-<node> in the speaker's namespace, with the node
// name as holder identity. It is the only candidate, so it always leads;
// the election is used for its renewal loop and for ReleaseOnCancel: a
// planned stop (SIGTERM cancels the context) empties holderIdentity at
// once, and every other speaker drops the node as soon as its watch
// delivers that write (measured 6-23 ms from the start of the stop to
// every other view). Timings (LeaseConfig): lease duration 1.5 s, renew
// deadline 1 s, retry period 0.5 s. leaderelection renews once per retry
// period, so a node costs one Lease write every 0.5 s plus a round trip:
// at most 2 writes/s per node, N nodes 2N writes/s, whatever the number of
// Services or addresses (measured with 3 speakers and a real API server:
// 6.0 writes/s), and each write reaches every speaker's watch (2N² watch
// events/s cluster-wide). Large clusters trade failover time for load by
// raising the three together (5 s / 3.5 s / 1.5 s: 0.67 writes/s per
// node, failover within about 5 s).
//
// Membership. Every speaker watches the Leases labelled LeaseLabel and
// judges them by its own clock, never by the renewTime written by another
// node (clocks differ): a node is live while its holderIdentity is set and
// its renewTime has changed within the lease duration as observed locally,
// and it is dead at once when it releases its Lease or the Lease is
// deleted. Expiry is also checked against the watch stream itself: a node
// is dropped only when this speaker's own later renewal (written at least
// lease duration minus retry period after the node was last seen) has come
// back through the same watch, which delivers writes in commit order. That
// proves the stream carried everything the silent node would have written,
// so a speaker whose watch or API access breaks never drops anyone because
// of it, not even in the instant before it notices. A node SIGKILLed is
// dropped a lease duration after its last renewal was seen, 1.0-1.5 s
// after it died (measured 1.02-1.51 s over 9 kills). Until a speaker has seen one of
// its own renewals come back, its view is empty and frozen. A Lease seen
// for the first time with a renewTime more than 10 s old by the local
// clock starts out dead (a node that vanished without releasing); a more
// recent one counts as live until it has been silent for a lease duration
// in this speaker's view, so a speaker just started may wait up to 1.5 s
// before it takes over the addresses of a node that died just before.
//
// Frozen view. A speaker whose own renewals have not come back through its
// watch within the renew deadline (it cannot reach the API server, or its
// watch is broken) is not Healthy: it expires nobody and keeps its view;
// explicit news that still arrives (a release, a new node) is applied. So
// when the API server is unreachable for everyone, nobody's view changes
// and every address stays where it was. A node cut off alone keeps its
// frozen view and keeps answering for its addresses, while the others drop
// it after the lease duration and take its addresses over with gratuitous
// ARP/NA. From then on two nodes answer; the responder reports a conflict
// when it hears another node announce an address it answers for, and the
// speaker yields that address (stops answering it) until its view is
// healthy again. Nothing else changes while its view is frozen. When the
// API server is back, its renewal makes it live for the others again and
// the addresses that hash to it move back.
//
// Availability. A node may be unable to answer for an Eip: its interface
// is missing, or has no carrier; or it may not: the Eip's nodeSelector
// does not match the node's labels, or the node is labelled
// node.kubernetes.io/exclude-from-external-load-balancers (any value),
// which rules it out of every Eip. The speaker then stops answering for
// that Eip's addresses at once, by itself (its Lease may still be renewed
// over another path), and lists the Eip in the UnavailableAnnotation of
// its Lease ("eip-a,eip-b", sorted), written only when the list changes
// (one extra write per change) and carried by every renewal after.
// Carrier back, or a label change that selects the node again, removes
// it. The list covers vip Eips too, which VIP mode then ranks without this
// node. Each speaker judges its own node only, from the Node object its
// cache already watches (one object, by name): the other speakers learn
// it from the Lease they already watch, so node selection costs no watch
// of other Nodes and no API call at rest, and every speaker computes the
// same owners from the same Leases. A node that loses its selection falls
// silent at once, and the new owner starts answering when the Lease write
// reaches its watch (measured in the end-to-end suite: 88 ms from the
// relabel to the client answered by the new owner); meanwhile the address
// may go unanswered. A node that gains its selection takes addresses only
// from its view of the Leases, as a node joining does.
//
// Addresses. While vip Eips exist, a speaker's Lease also carries the
// node's addresses in AddressesAnnotation ("192.0.2.7,2001:db8::7": IPv4
// first, at most one per family): for each family the first global
// unicast address, not inside any Eip's range, on the interfaces its vip
// Eips resolve to (pools in name order; an unavailable Eip contributes
// none). VIP mode uses them as unicast VRRP peers and sources, and as the
// proof that a node can run instances of a family, so no speaker watches
// Node objects for them (that would cost a watch of every Node per node).
// A change is written as the unavailable list is, and when both change
// together one update carries both; renewals carry them after. Without
// vip Eips the annotation is absent. VIPConfigRefusedAnnotation lists,
// the same way, the vip Eips whose instances on this node come from a
// config keepalived refused (VIP mode sets it while the refusal lasts);
// only the controller reads it, for the Eips' KeepalivedConfigAccepted
// condition, and it costs one write per refusal and one per recovery.
// CarrierWatch follows links through netlink; InterfaceFor
// resolves an Eip's interface by name or by "can_reach:<ip>" through the
// routing table.
//
// Ownership. The owner of an address is chosen by rendezvous
// (highest-random-weight) hashing among the candidate nodes: live, not
// marking the address's Eip unavailable (so never a node that lacks the
// Eip's interface, nor one its nodeSelector leaves out), and, for Services with
// externalTrafficPolicy Local, holding a ready endpoint. The weight of a
// node for an address is MurmurHash3's 64-bit finalizer applied to FNV-1a
// 64 of the node name, one 0x00 byte and the address's bytes (4 for IPv4,
// also when written IPv4-mapped; 16 for IPv6; no zone); the highest weight
// wins and equal weights go to the smaller name. Every speaker computes the
// same owner without talking, addresses spread evenly, and a node leaving
// or joining moves only the addresses it owned or now wins (about 1/n).
// The hash is part of the protocol between speakers: changing it makes
// speakers of two versions disagree during a rolling upgrade.
//
// Planned stop. On SIGTERM the speaker's manager stops, which releases the
// Lease at once; every other speaker recomputes without this node and the
// new owners announce (gratuitous ARP / unsolicited NA). The stopping node
// keeps answering until its responders have heard every address it owned
// announced by another MAC, at most the hand-over timeout (2 s by
// default), then closes them, so a client never waits for a resolution
// nobody answers.
//
// The packet layer (Responder) is described at the top of responder.go:
// what it answers, which frames it ignores and why, and when it announces.
package layer2
