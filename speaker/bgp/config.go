package bgp

import (
	"net/netip"
)

// DefaultConnectRetry is the connect-retry time, in seconds, of a peer whose
// BgpPeer leaves timers.config.connectRetry unset or 0. GoBGP's own default
// is 120 s (testbed caveat C8): after a router restart a node would wait up
// to four minutes to reconnect. Five seconds keeps reconnects fast and costs
// one SYN every 5-10 s per unreachable router.
const DefaultConnectRetry = 5

// NoListener is the Global.ListenPort that opens no BGP listener, so the
// speaker only connects out.
const NoListener = -1

// BGPPort is the well-known BGP port, which GoBGP listens on when some peer
// is passive and BgpConf sets no listenPort (OpenELB's rule).
const BGPPort = 179

// Family is an address family a session carries.
type Family string

// The families Herald announces: Service IPs as /32 or /128 routes, and
// Service ranges (BgpConf's serviceClusterIPs, serviceExternalIPs).
const (
	IPv4Unicast Family = "ipv4-unicast"
	IPv6Unicast Family = "ipv6-unicast"
)

// Config is everything one node's BGP router runs with: the result of
// Translate, and the desired state Router.Apply makes real.
type Config struct {
	// Global is the router's own identity and listener.
	Global Global
	// Peers are the sessions to run, sorted by Name.
	Peers []Peer
	// ConfProblems are BgpConf settings this speaker does not honour, in
	// words fit for an event or a condition on the BgpConf.
	ConfProblems []string
	// PeerProblems maps a BgpPeer name to its settings that this speaker
	// does not honour. A peer that has problems but is missing from Peers
	// does not run at all; the problems say why.
	PeerProblems map[string][]string
}

// Global is the identity and listener of the router. Any change to it
// restarts the whole router, and with it every session: GoBGP cannot change
// them in place.
type Global struct {
	// AS is the local AS number. Zero means BGP is off: Apply stops the
	// router.
	AS uint32
	// RouterID is the BGP identifier, an IPv4 address.
	RouterID netip.Addr
	// ListenPort is the TCP port the router accepts sessions on, or
	// NoListener.
	ListenPort int32
	// ListenAddresses restricts the listener; empty means every address.
	ListenAddresses []netip.Addr
	// Families restricts the RIB to these families; empty means every
	// family GoBGP knows.
	Families []Family
	// UseMultiplePaths enables multipath in the router's own RIB. GoBGP
	// keeps this switch in a package variable, so every GoBGP server in
	// the process shares it.
	UseMultiplePaths bool
}

// Peer is one BGP session. Graceful restart has no global switch in GoBGP,
// so BgpConf's gracefulRestart arrives here as the default of every peer
// that sets none.
type Peer struct {
	// Name is the BgpPeer's name.
	Name string
	// Description is the BgpPeer's conf.description. It is Herald's alone:
	// GoBGP resets a session when its description changes, so it is never
	// handed to GoBGP.
	Description string
	// Address is the neighbour's address; it identifies the session.
	Address netip.Addr
	// PeerAS is the neighbour's AS number.
	PeerAS uint32
	// LocalAS overrides Global.AS on this session; 0 means Global.AS.
	LocalAS uint32
	// Password is the TCP MD5 password; empty means none.
	Password string
	// Timers are the session timers.
	Timers Timers
	// Multihop allows an eBGP session to a router more than one hop away.
	Multihop Multihop
	// Passive waits for the router to connect instead of connecting out.
	Passive bool
	// RemotePort is the router's BGP port; 0 means 179.
	RemotePort uint16
	// TCPMSS caps the TCP segment size; 0 leaves it to the kernel.
	TCPMSS uint16
	// AdminDown configures the session but keeps it down.
	AdminDown bool
	// AllowOwnAS accepts routes that carry the local AS this many times.
	AllowOwnAS uint8
	// ReplacePeerAS replaces the router's AS in outgoing AS paths with the
	// local AS (eBGP only).
	ReplacePeerAS bool
	// RemovePrivateAS strips private AS numbers from outgoing AS paths
	// (eBGP only).
	RemovePrivateAS RemovePrivateAS
	// GracefulRestart are the RFC 4724 settings of the session.
	GracefulRestart GracefulRestart
	// Families are the address families of the session, never empty.
	Families []AfiSafi
	// Labels are the BgpPeer's labels, which the peerSelector of an Eip's
	// bgpAdvertisements matches. Herald's alone, never handed to GoBGP.
	Labels map[string]string
	// LocalAddress is the session's source address on this node, picked by
	// the BgpPeer's sourceAddress rule; unset leaves it to the kernel.
	// GoBGP also makes it the next hop of the routes the peer gets.
	LocalAddress netip.Addr
}

// Timers are session timers in seconds. Zero HoldTime and Keepalive mean
// GoBGP's defaults: 90 s hold, a third of the hold time for keepalives.
type Timers struct {
	ConnectRetry uint32
	HoldTime     uint32
	Keepalive    uint32
}

// Multihop is the eBGP multihop setting; TTL 0 with Enabled means 255.
type Multihop struct {
	Enabled bool
	TTL     uint8
}

// RemovePrivateAS says what happens to private AS numbers in AS paths sent
// to an eBGP peer.
type RemovePrivateAS string

// The RemovePrivateAS modes, named after GoBGP's.
const (
	RemovePrivateNone    RemovePrivateAS = ""
	RemovePrivateAll     RemovePrivateAS = "all"
	RemovePrivateReplace RemovePrivateAS = "replace"
)

// GracefulRestart are the RFC 4724 (and RFC 8538 notification) settings of
// one session. Times are seconds; zero RestartTime means the hold time, and
// zero DeferralTime means GoBGP's 360 s.
type GracefulRestart struct {
	Enabled             bool
	RestartTime         uint32
	HelperOnly          bool
	DeferralTime        uint32
	NotificationEnabled bool
	// LocalRestarting sets the Restart State bit in the OPEN: this speaker
	// has just restarted and the router should keep its stale routes until
	// the new session has sent them again.
	LocalRestarting bool
}

// AfiSafi is one address family of a session.
type AfiSafi struct {
	Family Family
	// GracefulRestart asks the router to keep this family's routes while
	// the speaker restarts.
	GracefulRestart bool
	// AddPathsReceive and AddPathsSendMax are RFC 7911 add-paths.
	AddPathsReceive bool
	AddPathsSendMax uint8
}

// Path is one route the node announces: a Service IP as a host route, or
// a Service range.
type Path struct {
	// Prefix is the route, in canonical form (host bits zero): a Service
	// IP as a /32 or /128, or a range such as 10.96.0.0/12.
	Prefix netip.Prefix
	// NextHop is the address the router should forward to. The zero Addr
	// lets GoBGP use the local address of each session, which is the node's
	// address on the interface facing that router, for eBGP and iBGP alike.
	// Set it when the session's family differs from the prefix's: an IPv6
	// route over an IPv4 session would otherwise get the IPv4-mapped
	// address ::ffff:a.b.c.d, which few routers can forward to.
	NextHop netip.Addr
	// Attrs are the attributes the route carries (an Eip's
	// bgpAdvertisements); zero for a plain route.
	Attrs Attrs
	// Peers, when not nil, are the only neighbours (by address) that get
	// the route; nil means every peer. A prefix may be listed several
	// times with disjoint Peers and different Attrs: each neighbour gets
	// the route with the attributes of its entry (see Router.Apply).
	Peers []netip.Addr
}
