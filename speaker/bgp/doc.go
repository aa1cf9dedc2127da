// Package bgp is the BGP mode of the speaker: it peers with the routers
// named by BgpPeers and announces each Service IP this node serves as a
// host route (/32 or /128), and any Service range BgpConf lists, with the
// node as next hop, so that the routers spread traffic over the nodes with
// ECMP.
//
// It has two halves. Translate is pure: it turns the BgpConf named
// "default", the BgpPeers and facts about the node into a Config, checking
// objects with the admission webhook's own functions (internal/bgpconfig),
// and lists every field it cannot honour as a problem instead of dropping
// it silently. Router embeds one GoBGP v3 server (no gRPC listener) and
// makes it run a Config and a set of Paths: Apply is idempotent and
// changes only what differs, Stop ends the sessions with or without
// withdrawing, PeerStatus and OnPeerEvent report the sessions. GoBGP's
// types never appear in this package's exported API; consumers declare the
// small interface they need (Apply, Stop, PeerStatus) and *Router
// satisfies it.
//
// Next hops. A Path with no NextHop goes to GoBGP with the unspecified
// address (0.0.0.0 or ::). GoBGP v3.37.0 replaces that, for a locally
// originated path, with the local address of each session, both towards
// eBGP and towards iBGP peers (table.UpdatePathAttrs), and leaves a given
// next hop alone. So every router learns the node's address on the
// interface that faces it, with no next-hop-self policy needed; iBGP routes
// also get LOCAL_PREF 100 and an empty AS path. The one case this does not
// cover is a route of one family over a session of the other: an IPv6
// route over an IPv4 session would get ::ffff:a.b.c.d, so the caller sets
// NextHop to the node's IPv6 address there (and an IPv4 route over an IPv6
// session needs an RFC 8950 capable router).
//
// Advertisements. Advertise applies an Eip's bgpAdvertisements: each
// address goes out as the host route or the aggregate of the length asked,
// with LOCAL_PREF and communities, to the peers each advertisement selects
// (externalTrafficPolicy Local addresses stay host routes). Attributes ride
// on the path, so a change of them is one UPDATE per session; GoBGP strips
// LOCAL_PREF towards eBGP peers after the export policy
// (BgpServer.postFilterpath). What differs between neighbours, a route some
// must not get or attributes that differ, goes through a generated global
// export policy; export.go says what each kind of change costs.
//
// Source address. A BgpPeer's sourceAddress rule picks, on each node, the
// session's local address from Node.Interfaces; GoBGP binds the session to
// it and, the next hop being left unspecified, also uses it as the next hop
// of the routes that peer gets. A node without such an address runs no
// session with that peer, and the problem says why.
//
// Routes from peers. A node announces and never forwards: the router's
// global import policy accepts only locally originated paths, so a route
// one router sends is dropped and never passed on to another router, which
// GoBGP would otherwise do (a node peering with two ToRs would become a
// transit between them).
//
// Timers. Unset timers are GoBGP's (hold 90 s, keepalive a third of it),
// except connect retry, which defaults to DefaultConnectRetry (5 s) instead
// of GoBGP's 120 s. After any session drop GoBGP waits a hard-coded 5 s
// before it reconnects.
//
// Restarts. GoBGP cannot change the AS, router ID or listener of a running
// server, so a change to Global restarts it and every session; a passive
// peer appearing when BgpConf sets no listenPort opens port 179 (OpenELB's
// rule) and is such a change. A change to one peer touches that session
// alone: GoBGP applies timers in place and resets the session for anything
// its OPEN message carries.
//
// GoBGP v3 quirks this package lives with: BgpServer.Serve never returns,
// so its goroutine outlives Stop until the process exits; route-selection
// switches (UseMultiplePaths) are package variables shared by every server
// in the process; and the reason a session failed appears only in GoBGP's
// logs, which the logger adapter reads for PeerStatus.LastError.
package bgp
