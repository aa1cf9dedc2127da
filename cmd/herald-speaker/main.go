// Command herald-speaker runs on every node (a DaemonSet with hostNetwork)
// and makes the network deliver the traffic of Herald's LoadBalancer
// addresses to the node: in BGP mode it advertises them to the BgpPeers
// that select the node, in Layer2 mode it answers ARP/NDP for the ones it
// owns, and in VIP mode it renders keepalived.conf for the herald-keepalived
// DaemonSet and names the VRRP master on the Services. It never allocates
// addresses.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/optin"
	"github.com/herald-lb/herald/speaker"
	"github.com/herald-lb/herald/speaker/bgp"
)

// speakerGCPercent is the speaker's GOGC unless the environment sets one.
const speakerGCPercent = 25

type flags struct {
	node, class, podName string
	// optin holds the MetalLB migration opt-ins, which must be the
	// controller's; optinErr is a bad value of their environment
	// variables, reported by run.
	optin                    optin.Policy
	optinErr                 error
	secretNamespace          string
	metricsAddr, probeAddr   string
	statusPeriod, stopBudget time.Duration
	pprof                    bool
	ignoreExcludeLB          bool
	resync                   time.Duration
	layer2                   layer2Flags
	vip                      vipFlags
}

// policy says which Services this speaker announces; the Reconciler
// carries it as text (optin.ParsePolicy).
func (f flags) policy() optin.Policy {
	p := f.optin
	p.Class = f.class
	return p
}

func parseFlags() flags {
	var f flags
	flag.StringVar(&f.node, "node-name", os.Getenv("NODE_NAME"), "this node's name (the DaemonSet passes spec.nodeName); defaults to $NODE_NAME")
	flag.StringVar(&f.secretNamespace, "secret-namespace", podNamespace(),
		"Herald's namespace: the only one whose Secrets the speaker reads for BgpPeer passwords (spec.conf.authPasswordSecretRef, whose empty namespace means this one); defaults to $POD_NAMESPACE")
	flag.StringVar(&f.podName, "pod-name", os.Getenv("POD_NAME"), "this speaker's pod, whose DaemonSet and namespace tell an uninstall from a rollout at SIGTERM (BGP graceful restart is kept only for a rollout); defaults to $POD_NAME")
	flag.StringVar(&f.class, "load-balancer-class", optin.DefaultLoadBalancerClass, "spec.loadBalancerClass Herald answers to")
	f.optinErr = optin.BindFlags(flag.CommandLine, &f.optin, os.Getenv)
	flag.StringVar(&f.metricsAddr, "metrics-bind-address", ":7472", "address of the Prometheus /metrics endpoint; 0 disables it")
	flag.StringVar(&f.probeAddr, "health-probe-bind-address", ":7473", "address of /healthz and /readyz")
	flag.DurationVar(&f.statusPeriod, "status-period", speaker.DefaultStatusPeriod, "how often BGP sessions are re-read for a status change no event announced; status is written only when it changes")
	flag.DurationVar(&f.stopBudget, "shutdown-timeout", 10*time.Second, "time allowed to withdraw or hand over on SIGTERM")
	flag.DurationVar(&f.resync, "resync-period", time.Minute, "recompute and re-apply everything this often even without changes (re-reads BgpPeer password Secrets)")
	flag.BoolVar(&f.ignoreExcludeLB, "ignore-exclude-lb", false,
		"let nodes labelled node.kubernetes.io/exclude-from-external-load-balancers announce like any other (kubeadm labels control-plane nodes so; without this flag they announce nothing)")
	flag.BoolVar(&f.pprof, "enable-pprof", false, "serve Go's profiles under /debug/pprof/ on the metrics endpoint (for debugging memory or CPU use)")
	f.layer2.bind()
	f.vip.bind(flag.CommandLine)
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	// client-go's own messages (reflectors, leader election) through the
	// same structured logger.
	klog.SetLogger(ctrl.Log.WithName("client-go"))
	return f
}

func main() {
	if err := run(parseFlags()); err != nil {
		ctrl.Log.Error(err, "herald-speaker failed")
		os.Exit(1)
	}
}

func run(f flags) error {
	if f.optinErr != nil {
		return f.optinErr
	}
	if f.node == "" {
		return errors.New("--node-name (or $NODE_NAME) is required")
	}
	// A speaker runs on every node, so its memory is paid once per node,
	// while it allocates in bursts only (Services created in bulk) and
	// hardly at all in between. A heap allowed to grow by a quarter of its
	// live size before a collection, rather than Go's default of all of
	// it, keeps the private memory at 1,000 Services near 16 MiB instead
	// of 27, for about a third more CPU during such bursts and none at
	// rest (make bench). GOGC set by the operator wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(speakerGCPercent)
	}
	scheme := runtime.NewScheme()
	// Only the built-in groups the speaker reads: every registered type
	// costs memory on every node (client-go's full scheme is ~1 MiB).
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, discoveryv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return fmt.Errorf("register built-in types: %w", err)
		}
	}
	if err := v1alpha2.AddToScheme(scheme); err != nil {
		return fmt.Errorf("register %s: %w", v1alpha2.GroupVersion, err)
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: f.metricsAddr, ExtraHandlers: profileHandlers(f.pprof)},
		HealthProbeBindAddress: f.probeAddr,
		Cache:                  speaker.CacheOptions(f.node),
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	log := ctrl.Log.WithName("speaker").WithValues("node", f.node)
	m, err := speaker.NewMetrics(metrics.Registry)
	if err != nil {
		return fmt.Errorf("register metrics: %w", err)
	}

	// The router outlives the manager's context so that it can withdraw
	// (or hand over) after the manager stopped.
	routerCtx, stopRouter := context.WithCancel(context.Background())
	defer stopRouter()
	status := &speaker.BGPStatusWriter{Node: f.node, Client: mgr.GetClient(), Log: log, Period: f.statusPeriod, Metrics: m}
	status.Init()
	bfdLink, stopBFD, err := startBFD(log.WithName("bfd"), metrics.Registry, status.Trigger)
	if err != nil {
		return err
	}
	defer stopBFD()
	router, err := bgp.NewRouter(routerCtx, bgp.Options{
		Logger: log.WithName("bgp"),
		OnPeerEvent: func(e bgp.PeerEvent) {
			msg := "bgp session down"
			if e.Up {
				msg = "bgp session up"
			}
			log.Info(msg, "peer", e.Peer, "ip", e.Address.String(), "state", string(e.State), "reason", e.Reason)
			status.Trigger()
			bfdLink.PeerEvent(routerCtx, e)
		},
	})
	if err != nil {
		return fmt.Errorf("start bgp router: %w", err)
	}
	// Message counters are read from GoBGP at scrape time, not written to
	// BgpPeer status (BGPStatusWriter).
	if err := metrics.Registry.Register(&speaker.BGPCollector{Status: router.PeerStatus, Log: log.WithName("bgp")}); err != nil {
		return fmt.Errorf("register bgp metrics: %w", err)
	}
	mode := &speaker.BGPMode{Node: f.node, Namespace: f.secretNamespace, Router: router, Secrets: mgr.GetAPIReader(), Log: log.WithName("bgp"),
		Leaving:    speaker.UninstallCheck{Reader: mgr.GetAPIReader(), PodName: f.podName, Namespace: f.secretNamespace}.Leaving,
		Interfaces: speaker.SystemInterfaceAddrs, Recorder: mgr.GetEventRecorder("herald-speaker"), BFD: bfdLink}
	bfdLink.Router = router
	addrs := speaker.NewAddrPoller(speaker.SystemInterfaceAddrs, mode.SourceAddressInUse, speaker.DefaultSourcePoll, log.WithName("bgp"))
	if err := mgr.Add(addrs); err != nil {
		return fmt.Errorf("add address poller: %w", err)
	}
	status.Mode = mode
	svcInformer, err := mgr.GetCache().GetInformer(context.Background(), &corev1.Service{})
	if err != nil {
		return fmt.Errorf("service informer: %w", err)
	}
	sii, ok := svcInformer.(toolscache.SharedIndexInformer)
	if !ok {
		return fmt.Errorf("service informer is a %T, not a SharedIndexInformer", svcInformer)
	}
	l2, err := setupLayer2(mgr, cfg, f.node, f.layer2, log, m)
	if err != nil {
		return fmt.Errorf("set up layer2 mode: %w", err)
	}
	if err := metrics.Registry.Register(l2.mode); err != nil {
		return fmt.Errorf("register layer2 metrics: %w", err)
	}
	vip, err := setupVIP(mgr, f.node, f.vip, l2, log, m)
	if err != nil {
		return fmt.Errorf("set up vip mode: %w", err)
	}
	rec := &speaker.Reconciler{
		Services: speaker.InformerServices(sii),
		Reader:   mgr.GetClient(), Node: f.node, Class: f.policy().String(), Metrics: m, Resync: f.resync,
		IgnoreExcludeLabel: f.ignoreExcludeLB,
		Modes:              map[string]speaker.Mode{v1alpha2.ProtocolBGP: mode, v1alpha2.ProtocolLayer2: l2.mode, v1alpha2.ProtocolVIP: vip.mode},
		Triggers:           append(append(l2.triggers, vip.triggers...), addrs.Changed()),
	}
	if err := rec.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up speaker: %w", err)
	}
	if err := mgr.Add(status); err != nil {
		return fmt.Errorf("add status writer: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("add healthz check: %w", err)
	}
	if err := mgr.AddReadyzCheck("announcing", rec.Ready); err != nil {
		return fmt.Errorf("add readyz check: %w", err)
	}

	log.Info("starting", "loadBalancerClass", f.class, optin.SettingMetalLBAnnotations, f.optin.MetalLBAnnotations,
		optin.SettingClasslessServices, f.optin.ClasslessServices, "secretNamespace", f.secretNamespace)
	runErr := mgr.Start(ctrl.SetupSignalHandler())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), f.stopBudget)
	defer cancel()
	if err := rec.Shutdown(shutdownCtx); err != nil {
		log.Error(err, "shutdown")
	}
	return runErr
}

// profileHandlers are net/http/pprof's handlers when enabled, for the
// metrics server to serve next to /metrics.
func profileHandlers(enabled bool) map[string]http.Handler {
	if !enabled {
		return nil
	}
	return map[string]http.Handler{
		"/debug/pprof/":        http.HandlerFunc(pprof.Index),
		"/debug/pprof/cmdline": http.HandlerFunc(pprof.Cmdline),
		"/debug/pprof/profile": http.HandlerFunc(pprof.Profile),
		"/debug/pprof/symbol":  http.HandlerFunc(pprof.Symbol),
		"/debug/pprof/trace":   http.HandlerFunc(pprof.Trace),
	}
}
