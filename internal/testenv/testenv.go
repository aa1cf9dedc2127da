package testenv

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/herald-lb/herald/api/v1alpha1"
	"github.com/herald-lb/herald/api/v1alpha2"
)

const (
	// ServiceCIDRv4 replaces envtest's 10.0.0.0/24 (about 250 ClusterIPs)
	// so that tests and benchmarks can create thousands of Services.
	ServiceCIDRv4 = "10.96.0.0/12"
	// ServiceCIDRv6 is added to the ClusterIP ranges with Options.DualStack.
	ServiceCIDRv6 = "fd00:10:96::/108"

	defaultStartTimeout = time.Minute
)

// Options tunes the control plane. The zero value is an IPv4-only cluster
// with Herald's CRDs installed.
type Options struct {
	// DualStack gives the API server an IPv6 ClusterIP range too, so that
	// Services may ask for ipFamilyPolicy PreferDualStack/RequireDualStack.
	DualStack bool

	// APIServerFlags are set on kube-apiserver (flag name without dashes ->
	// values); each replaces envtest's default for the same flag, e.g.
	// {"service-node-port-range": {"30000-40000"}}.
	APIServerFlags map[string][]string

	// CRDDirectoryPaths are installed before New returns; empty means
	// <repo>/config/crd/bases.
	CRDDirectoryPaths []string

	// NoCRDs starts the API server without Herald's CRDs, as a cluster is
	// before Herald is installed (CRDDirectoryPaths is ignored).
	NoCRDs bool

	// StartTimeout bounds the start of etcd and of kube-apiserver each;
	// zero means one minute (envtest's 20 s is tight on a loaded 2-core
	// machine running tests with -race).
	StartTimeout time.Duration

	// ServingHosts are IP addresses and DNS names the API server's serving
	// certificate names besides localhost and 127.0.0.1: the `kubernetes`
	// Service's ClusterIP and the advertised address, for pods and nodes
	// of a cluster testbed. The cert dir then holds CAFile too (CertDir).
	ServingHosts []string

	// ServiceAccounts turns the ServiceAccount admission plugin back on
	// (envtest turns it off, as nothing there creates the `default`
	// ServiceAccounts): a pod then gets its projected token, as in a real
	// cluster with a kube-controller-manager.
	ServiceAccounts bool

	// APIServerLog, when set, receives kube-apiserver's stdout and stderr.
	APIServerLog io.Writer

	// AttachOutput copies the control plane's logs to the test's stdout and
	// stderr; KUBEBUILDER_ATTACH_CONTROL_PLANE_OUTPUT=true does the same.
	AttachOutput bool
}

// Env is a running control plane and an admin client for it.
type Env struct {
	// Config authenticates as a member of system:masters.
	Config *rest.Config
	// Scheme knows the built-in Kubernetes types and Herald's v1alpha2 and
	// v1alpha1 APIs (the latter for the conversion webhook and its tests).
	Scheme *runtime.Scheme
	// Client is a direct (uncached) client built from Config and Scheme.
	Client client.Client

	env     *envtest.Environment
	certDir string // made by New for ServingHosts; removed by Stop
}

func removeDir(dir string) error {
	if dir == "" {
		return nil
	}
	return os.RemoveAll(dir)
}

// CertDir is the API server's cert dir: the serving certificate, the
// service account signing key (sa-signer.key), and with ServingHosts the
// CA (CAFile) that a kube-controller-manager publishes to pods.
func (e *Env) CertDir() string { return e.env.ControlPlane.GetAPIServer().CertDir }

// New starts etcd and kube-apiserver, installs the CRDs and returns a
// client for them. It suits TestMain; tests that want one control plane
// each use Start. The caller must call Stop.
func New(opts Options) (*Env, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	assets := assetsDir(root)
	if err := checkBinaries(assets); err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("testenv: register client-go types: %w", err)
	}
	if err := v1alpha2.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("testenv: register %s: %w", v1alpha2.GroupVersion, err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("testenv: register %s: %w", v1alpha1.GroupVersion, err)
	}

	crdDirs := opts.CRDDirectoryPaths
	if len(crdDirs) == 0 {
		crdDirs = []string{filepath.Join(root, "config", "crd", "bases")}
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = defaultStartTimeout
	}

	if opts.NoCRDs {
		crdDirs = nil
	}
	te := &envtest.Environment{
		Scheme:                   scheme,
		CRDDirectoryPaths:        crdDirs,
		ErrorIfCRDPathMissing:    !opts.NoCRDs,
		BinaryAssetsDirectory:    assets,
		ControlPlaneStartTimeout: timeout,
		AttachControlPlaneOutput: opts.AttachOutput,
	}
	// Explicit paths: envtest would otherwise fall back to
	// /usr/local/kubebuilder/bin, which is not what checkBinaries looked at.
	te.ControlPlane.GetAPIServer().Path = filepath.Join(assets, "kube-apiserver")
	te.ControlPlane.Etcd = &envtest.Etcd{Path: filepath.Join(assets, "etcd")}
	te.ControlPlane.KubectlPath = filepath.Join(assets, "kubectl")
	var certDir string
	if len(opts.ServingHosts) > 0 {
		if certDir, err = os.MkdirTemp("", "herald-testenv-certs-"); err != nil {
			return nil, fmt.Errorf("testenv: %w", err)
		}
		ca, err := writeServingCerts(certDir, opts.ServingHosts)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("testenv: %w", err), os.RemoveAll(certDir))
		}
		s := te.ControlPlane.GetAPIServer()
		s.CertDir = certDir
		s.SecureServing.CA = ca
	}
	configureAPIServer(te.ControlPlane.GetAPIServer(), opts)
	if opts.APIServerLog != nil {
		te.ControlPlane.GetAPIServer().Out = opts.APIServerLog
		te.ControlPlane.GetAPIServer().Err = opts.APIServerLog
	}

	cfg, err := te.Start()
	if err != nil {
		// Start can fail after etcd or the API server came up (CRD
		// installation): stop whatever runs so no process outlives the test.
		return nil, errors.Join(fmt.Errorf("testenv: start control plane: %w", err), te.Stop(), removeDir(certDir))
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("testenv: build client: %w", err), te.Stop(), removeDir(certDir))
	}
	return &Env{Config: cfg, Scheme: scheme, Client: c, env: te, certDir: certDir}, nil
}

// configureAPIServer sets Herald's flags. Set (not Append) replaces
// envtest's default for the same flag instead of passing it twice.
func configureAPIServer(s *envtest.APIServer, opts Options) {
	args := s.Configure()
	cidrs := ServiceCIDRv4
	if opts.DualStack {
		cidrs += "," + ServiceCIDRv6
	}
	args.Set("service-cluster-ip-range", cidrs)
	if opts.ServiceAccounts {
		args.Disable("disable-admission-plugins")
	}
	for name, values := range opts.APIServerFlags {
		args.Set(name, values...)
	}
}

// Start is New for a single test: it fails tb when the control plane does
// not start and stops it when the test ends.
func Start(tb testing.TB, opts Options) *Env {
	tb.Helper()
	e, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := e.Stop(); err != nil {
			tb.Errorf("testenv: stop: %v", err)
		}
	})
	return e
}

// Stop stops kube-apiserver and etcd and removes their data.
func (e *Env) Stop() error {
	if err := e.env.Stop(); err != nil {
		return errors.Join(fmt.Errorf("testenv: stop control plane: %w", err), removeDir(e.certDir))
	}
	return removeDir(e.certDir)
}

// APIServerURL is the API server's secure (https) URL on 127.0.0.1.
func (e *Env) APIServerURL() *url.URL {
	return e.env.ControlPlane.GetAPIServer().SecureServing.URL("https", "/")
}
