package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/speaker"
	"github.com/herald-lb/herald/speaker/layer2"
)

// defaultNamespace is Herald's namespace when $POD_NAMESPACE is not set:
// the one of the release manifest. It holds the speakers' Leases and the
// BgpPeer password Secrets.
const defaultNamespace = "herald-system"

// podNamespace is the speaker's namespace, from the downward API
// ($POD_NAMESPACE in the DaemonSet), or defaultNamespace.
func podNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	return defaultNamespace
}

// layer2Flags configure the Layer2 mode.
type layer2Flags struct {
	leaseNamespace                            string
	leaseDuration, renewDeadline, retryPeriod time.Duration
	handOver                                  time.Duration
	announceRepeats                           int
	announceInterval, announceRefresh         time.Duration
}

func (l *layer2Flags) bind() {
	flagDuration := flag.DurationVar
	flag.StringVar(&l.leaseNamespace, "lease-namespace", podNamespace(), "namespace of the speakers' Leases (Layer2 mode); defaults to $POD_NAMESPACE")
	flagDuration(&l.leaseDuration, "layer2-lease-duration", layer2.DefaultLeaseDuration, "a speaker silent this long is dead to the others, who take over its Layer2 addresses")
	flagDuration(&l.renewDeadline, "layer2-renew-deadline", layer2.DefaultRenewDeadline, "a speaker that cannot renew its Lease this long freezes its view of the others")
	flagDuration(&l.retryPeriod, "layer2-retry-period", layer2.DefaultRetryPeriod, "how often a speaker renews its Lease: one API write per period per node")
	flag.IntVar(&l.announceRepeats, "layer2-announce-repeats", layer2.DefaultAnnounceRepeats, "gratuitous ARP / unsolicited NA repeated this many times after the first, on gaining an address; negative: none")
	flagDuration(&l.announceInterval, "layer2-announce-interval", layer2.DefaultAnnounceInterval, "time between those repeats")
	flagDuration(&l.announceRefresh, "layer2-announce-refresh", layer2.DefaultAnnounceRefresh, "re-announce owned addresses this often (switches age out MAC entries); negative: never")
	flagDuration(&l.handOver, "layer2-handover-timeout", speaker.DefaultHandOverTimeout, "on SIGTERM, how long to keep answering until the next owners announce the addresses")
}

// layer2Setup is what the Layer2 mode adds to the manager.
type layer2Setup struct {
	mode     *speaker.Layer2Mode
	triggers []<-chan struct{}
}

// setupLayer2 builds the Layer2 mode: the carrier watch (run by mgr), and
// what the mode starts while layer2 or vip pools exist: this node's Lease
// and the membership view of the others' (VIP mode ranks nodes by it too),
// and, for layer2 pools, the responders.
func setupLayer2(mgr ctrl.Manager, cfg *rest.Config, node string, f layer2Flags, log logr.Logger, m *speaker.Metrics) (layer2Setup, error) {
	// The Lease's requests time out well within the renew deadline (a
	// request stuck on a dead connection would delay the next renewal);
	// the membership's watch must not time out.
	leaseCfg := rest.CopyConfig(cfg)
	leaseCfg.Timeout = f.renewDeadline / 2
	leaseClient, err := kubernetes.NewForConfig(leaseCfg)
	if err != nil {
		return layer2Setup{}, fmt.Errorf("lease client: %w", err)
	}
	watchClient, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return layer2Setup{}, fmt.Errorf("lease watch client: %w", err)
	}
	lc := layer2.LeaseConfig{
		Node: node, Namespace: f.leaseNamespace,
		LeaseDuration: f.leaseDuration, RenewDeadline: f.renewDeadline, RetryPeriod: f.retryPeriod,
		Log: log.WithName("lease"),
	}
	// Owned by the Node when it can be read, so that the garbage collector
	// removes the Lease of a deleted node.
	var n corev1.Node
	if err := mgr.GetAPIReader().Get(context.Background(), client.ObjectKey{Name: node}, &n); err == nil {
		lc.NodeUID = n.UID
	} else {
		log.Info("cannot read this node's Node object; its Lease gets no owner", "error", err.Error())
	}
	carrier := layer2.NewCarrierWatch(layer2.NetlinkLinks{}, log.WithName("carrier"))
	if err := mgr.Add(runnable{carrier}); err != nil {
		return layer2Setup{}, fmt.Errorf("add carrier watch: %w", err)
	}
	sessions := func() (speaker.L2Session, error) {
		lease, err := layer2.NewNodeLease(leaseClient.CoordinationV1(), lc)
		if err != nil {
			return nil, err
		}
		return startSession(lease, layer2.NewMembership(watchClient.CoordinationV1(), lease)), nil
	}
	poke := make(chan struct{}, 1)
	mode := &speaker.Layer2Mode{
		Node: node, Sessions: sessions, Carrier: carrier,
		Routes: layer2.NetlinkRoutes{},
		Responders: func(iface string, onConflict func(netip.Addr, net.HardwareAddr)) (speaker.L2Responder, error) {
			ifi, err := net.InterfaceByName(iface)
			if err != nil {
				return nil, err
			}
			return layer2.NewResponder(ifi, layer2.ResponderOptions{
				Logger:           log.WithName("responder").WithValues("interface", iface),
				OnConflict:       onConflict,
				AnnounceRepeats:  f.announceRepeats,
				AnnounceInterval: f.announceInterval,
				RefreshInterval:  f.announceRefresh,
			})
		},
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("herald-speaker"),
		Trigger: func() {
			select {
			case poke <- struct{}{}:
			default:
			}
		},
		HandOverTimeout: f.handOver,
		Log:             log.WithName("layer2"),
		Metrics:         m,
	}
	return layer2Setup{mode: mode, triggers: []<-chan struct{}{carrier.Changed(), poke}}, nil
}

// session runs a NodeLease and the Membership over it until Stop.
type session struct {
	*layer2.Membership
	lease  *layer2.NodeLease
	cancel context.CancelFunc
	done   chan struct{}
}

// startSession runs lease and members in the background.
func startSession(lease *layer2.NodeLease, members *layer2.Membership) *session {
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{Membership: members, lease: lease, cancel: cancel, done: make(chan struct{})}
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{lease.Start, members.Start} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = run(ctx) // both return nil once ctx ends
		}()
	}
	go func() {
		wg.Wait()
		close(s.done)
	}()
	return s
}

func (s *session) SetUnavailableEips(eips []string) { s.lease.SetUnavailableEips(eips) }

func (s *session) SetAddresses(addrs []netip.Addr) { s.lease.SetAddresses(addrs) }

func (s *session) SetVIPConfigRefused(eips []string) { s.lease.SetVIPConfigRefused(eips) }

// Stop releases the Lease (NodeLease releases it when its context ends)
// and waits for both to return.
func (s *session) Stop() {
	s.cancel()
	<-s.done
}

// runnable runs a Start(ctx) in the manager on every replica (the speaker
// elects no leader).
type runnable struct {
	r interface{ Start(context.Context) error }
}

func (r runnable) Start(ctx context.Context) error { return r.r.Start(ctx) }

// NeedLeaderElection is false: every speaker runs it.
func (runnable) NeedLeaderElection() bool { return false }
