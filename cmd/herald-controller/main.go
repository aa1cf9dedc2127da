// Command herald-controller allocates addresses to LoadBalancer Services
// from Eip pools, reports pool usage and serves the admission webhooks of
// the network.kubesphere.io API. Run one or more replicas; a Lease elects
// the one that allocates, every replica serves webhooks.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/herald-lb/herald/api/v1alpha1"
	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/controllers"
	"github.com/herald-lb/herald/internal/optin"
	"github.com/herald-lb/herald/keepalived"
	heraldwebhook "github.com/herald-lb/herald/webhook"
	"github.com/herald-lb/herald/webhook/certs"
)

type flags struct {
	metricsAddr, probeAddr       string
	leaderElect                  bool
	leaderElectionNamespace      string
	leaseDuration, renewDeadline time.Duration
	class                        string
	// optin holds the MetalLB migration opt-ins; optinErr is a bad value
	// of their environment variables, reported by run.
	optin             optin.Policy
	optinErr          error
	eipStatusInterval time.Duration
	// eipStatusUsed is --eip-status-used as written; usedForm is what it
	// and --eip-status-used-max-bytes parse to (parseUsedForm).
	eipStatusUsed    string
	usedForm         controllers.UsedForm
	speakerNamespace string
	webhooks         bool
	webhookPort      int
	webhookHost      string
	certDir          string
	certIPs          string
	conversionCRDs   string
	certs            certs.Options
	// vridRange and vridExclude are the VRRP flags as written; vridPool
	// is what they parse to (parseVRRP).
	vridRange, vridExclude string
	vridPool               keepalived.VRIDPool
}

func parseFlags() flags {
	var f flags
	flag.StringVar(&f.metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus /metrics endpoint; 0 disables it")
	flag.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	flag.BoolVar(&f.leaderElect, "leader-elect", true, "elect one allocating replica through a Lease")
	flag.StringVar(&f.leaderElectionNamespace, "leader-election-namespace", "", "namespace of the Lease; empty means the pod's namespace")
	flag.DurationVar(&f.leaseDuration, "leader-elect-lease-duration", 15*time.Second, "how long a Lease outlives its holder")
	flag.DurationVar(&f.renewDeadline, "leader-elect-renew-deadline", 10*time.Second, "how long the leader retries renewing before it gives up")
	flag.StringVar(&f.class, "load-balancer-class", controllers.DefaultLoadBalancerClass, "spec.loadBalancerClass Herald answers to")
	f.optinErr = optin.BindFlags(flag.CommandLine, &f.optin, os.Getenv)
	flag.DurationVar(&f.eipStatusInterval, "eip-status-interval", controllers.DefaultStatusInterval, "least time between two status writes of one Eip")
	flag.StringVar(&f.eipStatusUsed, "eip-status-used", controllers.UsedAuto,
		"form of Eips' status.used: full (OpenELB's map, address to Services; an Eip's status writes fail once it outgrows etcd's request limit), compact (status.usedCompact: runs of addresses, no Service names) or auto (the map while it costs at most --eip-status-used-max-bytes, compact above)")
	flag.IntVar(&f.usedForm.MaxBytes, "eip-status-used-max-bytes", controllers.DefaultUsedMaxBytes,
		"bytes an Eip's status.used map may cost in the stored object (its entries and their managedFields) before --eip-status-used=auto writes the compact form; the default is about 9,000 addresses")
	flag.StringVar(&f.speakerNamespace, "speaker-namespace", cmp.Or(os.Getenv("POD_NAMESPACE"), controllers.DefaultSpeakerNamespace),
		"namespace of the speakers' Leases, which say which nodes serve layer2 Eips; defaults to the pod's namespace ($POD_NAMESPACE)")
	flag.BoolVar(&f.webhooks, "enable-webhooks", true, "serve the admission webhooks and manage their certificates")
	flag.IntVar(&f.webhookPort, "webhook-port", 9443, "port of the webhook server")
	flag.StringVar(&f.webhookHost, "webhook-host", "", "address the webhook server binds; empty means all")
	flag.StringVar(&f.certDir, "webhook-cert-dir", "", "where serving certificates are written; empty means a temporary directory")
	flag.StringVar(&f.certIPs, "webhook-cert-ips", "", "comma-separated IP addresses added to the serving certificate")
	flag.StringVar(&f.certs.SecretNamespace, "webhook-secret-namespace", certs.DefaultNamespace, "namespace of the certificate Secret and of the webhook Service")
	flag.StringVar(&f.certs.SecretName, "webhook-secret-name", certs.DefaultSecretName, "Secret that holds the webhook CA and certificate")
	flag.StringVar(&f.certs.ServiceName, "webhook-service-name", certs.DefaultServiceName, "Service in front of the webhook server")
	flag.StringVar(&f.certs.ValidatingWebhookConfiguration, "validating-webhook-configuration", certs.DefaultValidatingWebhook, "configuration whose caBundle is managed")
	flag.StringVar(&f.certs.MutatingWebhookConfiguration, "mutating-webhook-configuration", certs.DefaultMutatingWebhook, "configuration whose caBundle is managed")
	flag.DurationVar(&f.certs.CAValidity, "webhook-ca-validity", certs.DefaultCAValidity, "lifetime of a new webhook CA")
	flag.DurationVar(&f.certs.CertValidity, "webhook-cert-validity", certs.DefaultCertValidity, "lifetime of a new serving certificate")
	flag.Float64Var(&f.certs.RefreshFraction, "webhook-cert-refresh-fraction", certs.DefaultRefreshFraction, "share of a certificate's lifetime after which it is replaced (between 0 and 1)")
	flag.DurationVar(&f.certs.PropagationDelay, "webhook-ca-propagation-delay", certs.DefaultPropagationDelay,
		"how long a new CA sits in the caBundles before it signs the serving certificate; keep it well below ca-validity × (1 - refresh-fraction)")
	flag.DurationVar(&f.certs.CheckInterval, "webhook-cert-check-interval", certs.DefaultCheckInterval, "how often the Secret, the certificate files and the caBundles are checked and repaired")
	flag.StringVar(&f.conversionCRDs, "conversion-crds", strings.Join(certs.DefaultCRDs(), ","),
		"comma-separated CRDs whose conversion webhook caBundle is managed (those with conversion strategy Webhook); empty for none")
	bindVRRPFlags(flag.CommandLine, &f)
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	return f
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == migrateCommand {
		os.Exit(migrateMetalLB(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	if err := run(parseFlags()); err != nil {
		ctrl.Log.Error(err, "herald-controller failed")
		os.Exit(1)
	}
}

func run(f flags) error {
	if f.optinErr != nil {
		return f.optinErr
	}
	if err := f.parseVRRP(); err != nil {
		return err
	}
	if err := f.parseUsedForm(); err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return fmt.Errorf("register core types: %w", err)
	}
	if err := v1alpha2.AddToScheme(scheme); err != nil {
		return fmt.Errorf("register %s: %w", v1alpha2.GroupVersion, err)
	}
	// v1alpha1 only for the conversion webhook; everything else reads
	// v1alpha2.
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return fmt.Errorf("register %s: %w", v1alpha1.GroupVersion, err)
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         controllers.CacheOptions(f.speakerNamespace),
		Metrics:                       metricsserver.Options{BindAddress: f.metricsAddr},
		HealthProbeBindAddress:        f.probeAddr,
		LeaderElection:                f.leaderElect,
		LeaderElectionID:              "herald-controller",
		LeaderElectionNamespace:       f.leaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &f.leaseDuration,
		RenewDeadline:                 &f.renewDeadline,
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: f.webhookHost, Port: f.webhookPort, CertDir: f.certDir,
		}),
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	if err := controllers.Setup(mgr, controllers.Options{
		LoadBalancerClass: f.class, EipStatusInterval: f.eipStatusInterval, EipStatusUsed: f.usedForm,
		MetalLBAnnotations: f.optin.MetalLBAnnotations, ClasslessServices: f.optin.ClasslessServices,
		SpeakerNamespace: f.speakerNamespace, VRIDPool: f.vridPool,
		OwnWebhookConfigurations: []string{f.certs.ValidatingWebhookConfiguration, f.certs.MutatingWebhookConfiguration},
	}); err != nil {
		return err
	}
	ctx := ctrl.SetupSignalHandler()
	if f.webhooks {
		if err := setupWebhooks(ctx, mgr, f); err != nil {
			return err
		}
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("add healthz check: %w", err)
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("add readyz check: %w", err)
	}
	ctrl.Log.Info("starting", "loadBalancerClass", f.class, optin.SettingMetalLBAnnotations, f.optin.MetalLBAnnotations,
		optin.SettingClasslessServices, f.optin.ClasslessServices, "leaderElection", f.leaderElect, "webhooks", f.webhooks,
		"vrrpVRIDRange", f.vridRange, "vrrpVRIDExclude", f.vridExclude)
	return mgr.Start(ctx)
}

// setupWebhooks writes the serving certificates before the manager starts
// its webhook server, which refuses to start without them.
// checkCertFlags refuses certificate timings that would break rotation,
// naming the flag.
func (f flags) checkCertFlags() error {
	for _, d := range []struct {
		flag  string
		value time.Duration
	}{
		{"--webhook-ca-validity", f.certs.CAValidity}, {"--webhook-cert-validity", f.certs.CertValidity},
		{"--webhook-ca-propagation-delay", f.certs.PropagationDelay}, {"--webhook-cert-check-interval", f.certs.CheckInterval},
	} {
		if d.value <= 0 {
			return fmt.Errorf("%s: %v: must be positive", d.flag, d.value)
		}
	}
	if r := f.certs.RefreshFraction; r <= 0 || r >= 1 {
		return fmt.Errorf("--webhook-cert-refresh-fraction: %v: must be between 0 and 1", r)
	}
	if rest := time.Duration(float64(f.certs.CAValidity) * (1 - f.certs.RefreshFraction)); f.certs.PropagationDelay >= rest {
		return fmt.Errorf("--webhook-ca-propagation-delay: %v: must be below the CA's remaining life at rotation, %v (--webhook-ca-validity × (1 - --webhook-cert-refresh-fraction))",
			f.certs.PropagationDelay, rest)
	}
	return nil
}

func setupWebhooks(ctx context.Context, mgr ctrl.Manager, f flags) error {
	for _, text := range strings.Split(f.certIPs, ",") {
		if text = strings.TrimSpace(text); text == "" {
			continue
		}
		ip, err := netip.ParseAddr(text)
		if err != nil {
			return fmt.Errorf("--webhook-cert-ips: %q is not an IP address", text)
		}
		f.certs.IPAddresses = append(f.certs.IPAddresses, ip)
	}
	f.certs.CRDs = []string{} // none unless listed
	for _, name := range strings.Split(f.conversionCRDs, ",") {
		if name = strings.TrimSpace(name); name != "" {
			f.certs.CRDs = append(f.certs.CRDs, name)
		}
	}
	if err := f.checkCertFlags(); err != nil {
		return err
	}
	if _, err := certs.Setup(ctx, mgr, f.certs); err != nil {
		return fmt.Errorf("webhook certificates: %w", err)
	}
	// The certificate Secret's namespace is the controller's own
	// ($POD_NAMESPACE in the release), which is where BgpPeer password
	// Secrets must be too.
	return heraldwebhook.Setup(mgr, heraldwebhook.Options{
		Namespace: f.certs.SecretNamespace,
		VRIDPool:  f.vridPool, VRIDRange: f.vridRange, VRIDExclude: f.vridExclude,
	})
}
