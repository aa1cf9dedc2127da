package bgp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"github.com/go-logr/logr"
	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
	"google.golang.org/protobuf/proto"
)

// Options configure a Router.
type Options struct {
	// Logger receives the Router's and GoBGP's logs; GoBGP's own Info
	// lines go to V(2) and its Debug lines to V(4).
	Logger logr.Logger
	// OnPeerEvent, when set, is called for every session that comes up or
	// goes down, in order, from one goroutine; a slow callback delays
	// later events, never the router.
	OnPeerEvent func(PeerEvent)
}

// Router is one node's BGP speaker: an embedded GoBGP server driven to the
// desired state given to Apply. It is safe for concurrent use.
type Router struct {
	log  logr.Logger
	srv  *server.BgpServer
	book *peerBook

	mu     sync.Mutex
	global *Global // nil while BGP is stopped
	peers  map[netip.Addr]appliedPeer
	paths  map[netip.Prefix]routeSpec
	// export is the export policy GoBGP runs (export.go); exportGen
	// numbers its generations.
	export    appliedExport
	exportGen int
}

// appliedPeer is a peer as last handed to GoBGP.
type appliedPeer struct {
	cfg Peer
	api *api.Peer
}

// NewRouter starts an embedded GoBGP server, idle until the first Apply.
// Its peer-event watcher ends with ctx. GoBGP v3's main loop
// (BgpServer.Serve) has no way to end: after ctx ends or Stop it stays
// parked on empty channels until the process exits, and costs nothing
// more. There is no gRPC listener.
func NewRouter(ctx context.Context, opts Options) (*Router, error) {
	book := newPeerBook()
	r := &Router{
		log:   opts.Logger,
		book:  book,
		peers: map[netip.Addr]appliedPeer{},
		paths: map[netip.Prefix]routeSpec{},
	}
	r.srv = server.NewBgpServer(server.LoggerOption(&gobgpLogger{log: opts.Logger.WithName("gobgp"), book: book}))
	go r.srv.Serve()
	w := &peerWatcher{book: book, notify: opts.OnPeerEvent, last: map[netip.Addr]SessionState{}}
	if err := r.srv.WatchEvent(ctx, &api.WatchEventRequest{Peer: &api.WatchEventRequest_Peer{}}, w.handle); err != nil {
		return nil, fmt.Errorf("watch peer events: %w", err)
	}
	return r, nil
}

// Apply makes the router run cfg and announce paths, changing only what
// differs from what it runs: the global part restarts the router (and every
// session) only when it changed; a changed peer is updated in place and no
// other session notices; paths are announced and withdrawn by difference.
// A zero cfg.Global.AS stops BGP, withdrawing everything.
//
// Paths carry their attributes; what differs between neighbours (a route
// some do not get, attributes that differ) goes through an export policy,
// whose costs export.go describes: a change of attributes is one UPDATE
// per session and never resets one.
//
// Failures of single peers or paths do not stop the rest; they come back
// joined, each naming its peer or prefix, and the next Apply retries them.
func (r *Router) Apply(ctx context.Context, cfg Config, paths []Path) error {
	want, err := pathTable(paths)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if cfg.Global.AS == 0 {
		return r.stopLocked(ctx, false)
	}
	if r.global == nil || !globalEqual(*r.global, cfg.Global) {
		if err := r.startLocked(ctx, cfg.Global); err != nil {
			return err
		}
	}
	before := make(map[netip.Addr]bool, len(r.peers))
	for a := range r.peers {
		before[a] = true
	}
	neighbors := neighborAddrs(cfg.Peers)
	resend := r.resendNeeded(want, neighbors)
	errs := r.withdrawLeaving(ctx, want, neighbors)
	if err := r.installExport(ctx, buildExport(want, neighbors)); err != nil {
		// Without the policy the routes would reach neighbours that must
		// not get them; announce nothing new until it is in place.
		return errors.Join(append(errs, err)...)
	}
	errs = append(errs, r.applyPeers(ctx, cfg.Peers)...)
	errs = append(errs, r.applyPaths(ctx, want)...)
	for _, a := range resend {
		if _, runs := r.peers[a]; runs && before[a] {
			errs = append(errs, r.softResetOut(ctx, a))
		}
	}
	return errors.Join(errs...)
}

// neighborAddrs are the addresses of peers, each once.
func neighborAddrs(peers []Peer) []netip.Addr {
	var out []netip.Addr
	for _, p := range peers {
		if !slices.Contains(out, p.Address) {
			out = append(out, p.Address)
		}
	}
	return out
}

// resendNeeded are the neighbours that must be sent a route again although
// its path does not change: it reaches them now and did not before, or with
// other attributes of the export policy. GoBGP skips a path added again
// unchanged, so only a soft reset out sends it (see export.go). A route
// whose path changes is sent under the new policy anyway, and one a
// neighbour stops getting is withdrawn by withdrawLeaving.
func (r *Router) resendNeeded(want map[netip.Prefix]routeSpec, neighbors []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range neighbors {
		for prefix, next := range want {
			old, ok := r.paths[prefix]
			if !ok || old.nextHop != next.nextHop || !old.attrs.Equal(next.attrs) || !next.gets(a) {
				continue
			}
			if !old.gets(a) || !old.per[a].Equal(next.per[a]) {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

// withdrawLeaving withdraws, from every neighbour, the routes that a
// neighbour which keeps running got and must no longer get; applyPaths
// announces them again to the others once the new export policy is in
// place (see export.go for why).
func (r *Router) withdrawLeaving(ctx context.Context, want map[netip.Prefix]routeSpec, neighbors []netip.Addr) []error {
	var errs []error
	for prefix, old := range r.paths {
		next, keep := want[prefix]
		if !keep {
			continue // applyPaths withdraws it
		}
		leaving := false
		for _, a := range neighbors {
			_, ran := r.peers[a]
			leaving = leaving || (ran && old.gets(a) && !next.gets(a))
		}
		if !leaving {
			continue
		}
		if err := r.deletePath(ctx, old.path(prefix)); err != nil {
			errs = append(errs, fmt.Errorf("path %s: withdraw before narrowing its peers: %w", prefix, err))
			continue
		}
		delete(r.paths, prefix)
		r.log.V(1).Info("withdrew path to narrow its peers", "prefix", prefix)
	}
	return errs
}

func (r *Router) deletePath(ctx context.Context, path Path) error {
	p, err := apiPath(path)
	if err == nil {
		err = r.srv.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Family: p.Family, Path: p})
	}
	return err
}

func globalEqual(a, b Global) bool {
	return a.AS == b.AS && a.RouterID == b.RouterID && a.ListenPort == b.ListenPort &&
		slices.Equal(a.ListenAddresses, b.ListenAddresses) && slices.Equal(a.Families, b.Families) &&
		a.UseMultiplePaths == b.UseMultiplePaths
}

// startLocked (re)starts BGP with g. A running router is stopped first,
// which ends every session with a CEASE; GoBGP cannot change its AS,
// router ID or listener in place.
func (r *Router) startLocked(ctx context.Context, g Global) error {
	if r.global != nil {
		r.log.Info("restarting BGP: the router's identity or listener changed", "as", g.AS, "routerID", g.RouterID)
		if err := r.stopLocked(ctx, false); err != nil {
			return err
		}
	}
	if err := r.srv.StartBgp(ctx, &api.StartBgpRequest{Global: apiGlobal(g)}); err != nil {
		return fmt.Errorf("start BGP as AS %d, router ID %s, port %d: %w", g.AS, g.RouterID, g.ListenPort, err)
	}
	r.global = &g
	if err := r.acceptNoRoutes(ctx); err != nil {
		return errors.Join(err, r.stopLocked(ctx, false))
	}
	r.log.Info("started BGP", "as", g.AS, "routerID", g.RouterID, "listenPort", g.ListenPort)
	return nil
}

// acceptNoRoutes makes the router drop every route its peers send: a node
// announces its own Service routes and must never pass one router's routes
// on to another, as GoBGP would by default.
func (r *Router) acceptNoRoutes(ctx context.Context) error {
	policy := &api.Policy{
		Name: "herald-local-routes-only",
		Statements: []*api.Statement{{
			Name:       "herald-accept-local",
			Conditions: &api.Conditions{RouteType: api.Conditions_ROUTE_TYPE_LOCAL},
			Actions:    &api.Actions{RouteAction: api.RouteAction_ACCEPT},
		}},
	}
	if err := r.srv.AddPolicy(ctx, &api.AddPolicyRequest{Policy: policy}); err != nil {
		return fmt.Errorf("add import policy: %w", err)
	}
	err := r.srv.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name:          "global",
		Direction:     api.PolicyDirection_IMPORT,
		Policies:      []*api.Policy{{Name: policy.Name}},
		DefaultAction: api.RouteAction_REJECT,
	}})
	if err != nil {
		return fmt.Errorf("assign import policy: %w", err)
	}
	return nil
}

// applyPeers adds, updates and deletes peers by neighbour address.
func (r *Router) applyPeers(ctx context.Context, peers []Peer) []error {
	var errs []error
	want := make(map[netip.Addr]Peer, len(peers))
	unique := peers[:0:0]
	for _, p := range peers {
		if other, dup := want[p.Address]; dup {
			errs = append(errs, fmt.Errorf("peer %q: neighbour %s is already peer %q's; not started", p.Name, p.Address, other.Name))
			continue
		}
		want[p.Address] = p
		unique = append(unique, p)
		r.book.setName(p.Address, p.Name)
	}
	for a, old := range r.peers {
		if _, keep := want[a]; keep {
			continue
		}
		if err := r.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: a.String()}); err != nil {
			errs = append(errs, fmt.Errorf("peer %q: delete %s: %w", old.cfg.Name, a, err))
			continue
		}
		delete(r.peers, a)
		r.log.V(1).Info("deleted peer", "peer", old.cfg.Name, "ip", a)
	}
	for _, p := range unique {
		desired := apiPeer(p)
		old, exists := r.peers[p.Address]
		switch {
		case !exists:
			if err := r.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: desired}); err != nil {
				errs = append(errs, fmt.Errorf("peer %q: add %s: %w", p.Name, p.Address, err))
				continue
			}
			r.log.V(1).Info("added peer", "peer", p.Name, "ip", p.Address)
		case !proto.Equal(old.api, desired):
			// GoBGP applies timer and multihop changes in place and
			// restarts this session alone for anything its OPEN carries.
			if _, err := r.srv.UpdatePeer(ctx, &api.UpdatePeerRequest{Peer: desired}); err != nil {
				errs = append(errs, fmt.Errorf("peer %q: update %s: %w", p.Name, p.Address, err))
				continue
			}
			r.log.V(1).Info("updated peer", "peer", p.Name, "ip", p.Address)
		}
		r.peers[p.Address] = appliedPeer{cfg: p, api: desired}
	}
	return errs
}

// applyPaths announces new paths and paths that changed (GoBGP replaces a
// path with the same prefix, and sends only the new attributes), and
// withdraws the rest.
func (r *Router) applyPaths(ctx context.Context, want map[netip.Prefix]routeSpec) []error {
	var errs []error
	for prefix, old := range r.paths {
		if _, keep := want[prefix]; keep {
			continue
		}
		if err := r.deletePath(ctx, old.path(prefix)); err != nil {
			errs = append(errs, fmt.Errorf("path %s: withdraw: %w", prefix, err))
			continue
		}
		delete(r.paths, prefix)
		r.log.V(1).Info("withdrew path", "prefix", prefix)
	}
	for prefix, s := range want {
		if old, ok := r.paths[prefix]; ok && old.equal(s) {
			continue
		}
		p, err := apiPath(s.path(prefix))
		if err == nil {
			_, err = r.srv.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: p})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("path %s: announce: %w", prefix, err))
			continue
		}
		r.paths[prefix] = s
		r.log.V(1).Info("announced path", "prefix", prefix)
	}
	return errs
}

// descriptions are the applied peers' descriptions by address.
func (r *Router) descriptions() map[netip.Addr]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[netip.Addr]string, len(r.peers))
	for a, p := range r.peers {
		out[a] = p.cfg.Description
	}
	return out
}
