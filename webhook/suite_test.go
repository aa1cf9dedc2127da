package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/yaml"

	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/webhook"
	"github.com/herald-lb/herald/webhook/certs"
	"github.com/herald-lb/herald/webhook/webhooktest"
)

// suiteLabel keeps the two webhook servers of this package apart: objects
// labelled herald.test/suite=rotation go to the rotation test's server
// only, everything else to the suite's.
const suiteLabel = "herald.test/suite"

// The control plane and the suite's webhook server, shared by every test.
var (
	env   *testenv.Env
	suite *server
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	out := io.Discard
	if os.Getenv("HERALD_TEST_LOG") != "" {
		out = os.Stderr
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(out), zap.UseDevMode(true)))

	var err error
	if env, err = testenv.New(testenv.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: certs.DefaultNamespace}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	suite, err = startServer(ctx, "suite", metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: suiteLabel, Operator: metav1.LabelSelectorOpNotIn, Values: []string{"rotation"}},
	}}, certs.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer suite.stop()
	return m.Run()
}

// server is one manager serving Herald's webhooks on 127.0.0.1, with its
// own webhook configurations and certificate Secret.
type server struct {
	name    string
	addr    string
	certDir string
	rotator *certs.Rotator
	// converts is true for the server the CRDs call for conversions.
	converts bool
	cancel   context.CancelFunc
	done     chan error
}

// startServer starts a manager with the webhooks, installs
// config/webhook/manifests.yaml under names of its own, pointed at it by
// URL with an empty caBundle and limited by selector, and returns once
// the API server's admission requests reach it.
func startServer(ctx context.Context, name string, selector metav1.LabelSelector, opts certs.Options) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{name: name, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), certDir: filepath.Join(os.TempDir(), fmt.Sprintf("herald-webhook-%s-%d", name, port))}
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 env.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer:          crwebhook.NewServer(crwebhook.Options{Host: "127.0.0.1", Port: port, CertDir: s.certDir}),
	})
	if err != nil {
		return nil, fmt.Errorf("server %s: new manager: %w", name, err)
	}
	// A VRID range smaller than the default, so that the warning on large
	// vip Eips shows in TestAccepted.
	vrids, err := keepalived.ParseVRIDPool("1-100", "")
	if err != nil {
		return nil, err
	}
	if err := webhook.Setup(mgr, webhook.Options{VRIDPool: vrids, VRIDRange: "1-100"}); err != nil {
		return nil, fmt.Errorf("server %s: %w", name, err)
	}
	opts.SecretName = "herald-webhook-certs-" + name
	opts.ValidatingWebhookConfiguration = "herald-validating-" + name
	opts.MutatingWebhookConfiguration = "herald-mutating-" + name
	opts.DNSNames = []string{"localhost"}
	opts.IPAddresses = append(opts.IPAddresses, netip.MustParseAddr("127.0.0.1"))
	if err := installWebhookConfigs(ctx, opts, "https://"+s.addr, selector); err != nil {
		return nil, fmt.Errorf("server %s: %w", name, err)
	}
	// A server left with the default CRD list takes over the CRDs'
	// conversion, as herald-controller does in a cluster; its Rotator
	// fills in their caBundle.
	s.converts = opts.CRDs == nil
	if s.converts {
		if err := webhooktest.PointConversion(ctx, env.Client, "https://"+s.addr+"/convert"); err != nil {
			return nil, fmt.Errorf("server %s: %w", name, err)
		}
	}
	bootCtx, bootCancel := context.WithTimeout(ctx, 30*time.Second)
	defer bootCancel()
	if s.rotator, err = certs.Setup(bootCtx, mgr, opts); err != nil {
		return nil, fmt.Errorf("server %s: %w", name, err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	s.cancel, s.done = cancel, make(chan error, 1)
	go func() { s.done <- mgr.Start(runCtx) }()
	if err := s.waitServing(ctx, selector); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// waitServing polls with a dry-run BgpConf that only the webhook refuses
// until the refusal arrives: the caBundle is in place and the server up.
func (s *server) waitServing(ctx context.Context, selector metav1.LabelSelector) error {
	labels := map[string]string{}
	if len(selector.MatchLabels) > 0 {
		labels = selector.MatchLabels
	}
	var last error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		probe := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "network.kubesphere.io/v1alpha2", "kind": "BgpConf",
			"metadata": map[string]any{"name": "probe-" + s.name, "labels": toAny(labels)},
			"spec":     map[string]any{"as": int64(1)},
		}}
		last = env.Client.Create(ctx, probe, client.DryRunAll)
		return last != nil && strings.Contains(last.Error(), "only the BgpConf named default"), nil
	})
	if err != nil {
		return fmt.Errorf("server %s: webhooks not answering: %w (last answer: %v)", s.name, err, last)
	}
	if !s.converts {
		return nil
	}
	// The same through v1alpha1: the API server must convert the probe
	// through /convert before the webhook can refuse it.
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		probe := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "network.kubesphere.io/v1alpha1", "kind": "BgpConf",
			"metadata": map[string]any{"name": "probe-" + s.name, "labels": toAny(labels)},
			"spec":     map[string]any{"as": int64(1)},
		}}
		last = env.Client.Create(ctx, probe, client.DryRunAll)
		return last != nil && strings.Contains(last.Error(), "only the BgpConf named default"), nil
	})
	if err != nil {
		return fmt.Errorf("server %s: conversion webhook not answering: %w (last answer: %v)", s.name, err, last)
	}
	return nil
}

func (s *server) stop() {
	s.cancel()
	if err := <-s.done; err != nil {
		fmt.Fprintf(os.Stderr, "server %s: %v\n", s.name, err)
	}
	_ = os.RemoveAll(s.certDir)
}

// installWebhookConfigs creates the generated configurations under the
// names in opts, each webhook pointed at base+path by URL, caBundle empty:
// filling it is the Rotator's job.
func installWebhookConfigs(ctx context.Context, opts certs.Options, base string, selector metav1.LabelSelector) error {
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(root, "config", "webhook", "manifests.yaml"))
	if err != nil {
		return fmt.Errorf("read generated webhook manifests: %w", err)
	}
	point := func(cc *admissionregistrationv1.WebhookClientConfig) {
		url := base + *cc.Service.Path
		cc.URL, cc.Service, cc.CABundle = &url, nil, nil
	}
	for _, doc := range strings.Split(string(data), "\n---\n") {
		if strings.TrimSpace(strings.Trim(doc, "-\n")) == "" {
			continue
		}
		switch {
		case strings.Contains(doc, "kind: ValidatingWebhookConfiguration"):
			var v admissionregistrationv1.ValidatingWebhookConfiguration
			if err := yaml.UnmarshalStrict([]byte(doc), &v); err != nil {
				return fmt.Errorf("parse ValidatingWebhookConfiguration: %w", err)
			}
			v.Name = opts.ValidatingWebhookConfiguration
			for i := range v.Webhooks {
				point(&v.Webhooks[i].ClientConfig)
				v.Webhooks[i].ObjectSelector = selector.DeepCopy()
			}
			if err := env.Client.Create(ctx, &v); err != nil {
				return fmt.Errorf("create %s: %w", v.Name, err)
			}
		case strings.Contains(doc, "kind: MutatingWebhookConfiguration"):
			var m admissionregistrationv1.MutatingWebhookConfiguration
			if err := yaml.UnmarshalStrict([]byte(doc), &m); err != nil {
				return fmt.Errorf("parse MutatingWebhookConfiguration: %w", err)
			}
			m.Name = opts.MutatingWebhookConfiguration
			for i := range m.Webhooks {
				point(&m.Webhooks[i].ClientConfig)
				m.Webhooks[i].ObjectSelector = selector.DeepCopy()
			}
			if err := env.Client.Create(ctx, &m); err != nil {
				return fmt.Errorf("create %s: %w", m.Name, err)
			}
		default:
			return fmt.Errorf("unexpected document in the webhook manifests:\n%s", doc)
		}
	}
	return nil
}

// warnings records the warnings the API server sends back.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.list
	w.list = nil
	return l
}

// userClient is what `kubectl apply` amounts to: a client that sends
// manifests as written (unstructured) and shows the warnings it gets.
func userClient(t *testing.T) (client.Client, *warnings) {
	t.Helper()
	w := &warnings{}
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandler = w
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c, w
}

// manifest parses a YAML manifest into what a user would send.
func manifest(t *testing.T, text string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(text), &u.Object); err != nil {
		t.Fatalf("test manifest does not parse: %v\n%s", err, text)
	}
	return u
}

// deleteAfter removes an object the test created when the test ends.
func deleteAfter(t *testing.T, obj client.Object) {
	t.Helper()
	t.Cleanup(func() {
		if err := env.Client.Delete(context.Background(), obj); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("clean up %s: %v", obj.GetName(), err)
		}
	})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("find a free port: not a TCP address")
	}
	return addr.Port, nil
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
