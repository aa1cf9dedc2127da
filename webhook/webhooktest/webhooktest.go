// Package webhooktest runs herald-controller's webhook server (admission
// handlers and the CRDs' conversion webhook, with its own certificates)
// on 127.0.0.1 against a test control plane, for tests that need the API
// server to convert between v1alpha1 and v1alpha2: a cluster taken over
// from OpenELB, whose objects may be stored at v1alpha1, is the main one.
//
// How an object stored at v1alpha1 reads back: the CRD's storage version
// is v1alpha2 once Herald's CRDs are applied, but etcd keeps each object in
// the version it was last written in, and status.storedVersions lists every
// version that may still be there. Reading such an object through v1alpha2
// makes the API server send it to /convert (webhook/convert.EipToHub,
// BgpConfToHub, BgpPeerToHub), so the renamed fields (routerID, port,
// config, addPaths) arrive under their v1alpha2 names. Under OpenELB's
// conversion None they were silently dropped. Writing the object once
// through any version stores it at v1alpha2; only then may v1alpha1 leave
// storedVersions.
//
// Start installs no admission webhook configurations: the handlers are
// served, and a test that wants them registers configurations pointing at
// Server.URL.
package webhooktest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/webhook"
	"github.com/herald-lb/herald/webhook/certs"
)

// Server is a running webhook server.
type Server struct {
	// URL is https://127.0.0.1:<port>; the conversion webhook is at
	// URL+"/convert", the admission webhooks at the paths of
	// config/webhook/manifests.yaml.
	URL string

	certDir string
	cancel  context.CancelFunc
	done    chan error
}

// Start points Herald's three CRDs' conversion at a new webhook server
// and starts it; the server's certificate Rotator fills in their caBundle.
// The CRDs must exist. scheme must know the core types, v1alpha1 and
// v1alpha2 (testenv.Env.Scheme does). It returns once a v1alpha1 write
// converts. Stop the server when done.
func Start(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme) (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webhooktest: find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	dir, err := os.MkdirTemp("", "herald-webhooktest-")
	if err != nil {
		return nil, fmt.Errorf("webhooktest: %w", err)
	}
	s := &Server{URL: "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), certDir: dir}

	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("webhooktest: client: %w", err), s.cleanup())
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: certs.DefaultNamespace}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, errors.Join(fmt.Errorf("webhooktest: create namespace %s: %w", ns.Name, err), s.cleanup())
	}
	// Before the Rotator's first round, so that it fills in the caBundle.
	if err := PointConversion(ctx, c, s.URL+"/convert"); err != nil {
		return nil, errors.Join(err, s.cleanup())
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer:          crwebhook.NewServer(crwebhook.Options{Host: "127.0.0.1", Port: port, CertDir: dir}),
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("webhooktest: new manager: %w", err), s.cleanup())
	}
	if err := webhook.Setup(mgr, webhook.Options{}); err != nil {
		return nil, errors.Join(fmt.Errorf("webhooktest: %w", err), s.cleanup())
	}
	bootCtx, bootCancel := context.WithTimeout(ctx, 30*time.Second)
	defer bootCancel()
	if _, err := certs.Setup(bootCtx, mgr, certs.Options{
		SecretName:  "herald-webhooktest-certs",
		DNSNames:    []string{"localhost"},
		IPAddresses: []netip.Addr{netip.MustParseAddr("127.0.0.1")},
	}); err != nil {
		return nil, errors.Join(fmt.Errorf("webhooktest: %w", err), s.cleanup())
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel, s.done = cancel, make(chan error, 1)
	go func() { s.done <- mgr.Start(runCtx) }()
	if err := WaitConverting(ctx, c); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

// Stop stops the server and removes its certificate files.
func (s *Server) Stop() error {
	var err error
	if s.cancel != nil {
		s.cancel()
		err = <-s.done
	}
	return errors.Join(err, s.cleanup())
}

func (s *Server) cleanup() error {
	return os.RemoveAll(s.certDir)
}

// PointConversion switches Herald's three CRDs to conversion by the
// webhook at url with an empty caBundle, as config/crd's patches do with
// the webhook Service in a cluster.
func PointConversion(ctx context.Context, c client.Client, url string) error {
	patch := fmt.Sprintf(`{"spec":{"conversion":{"strategy":"Webhook","webhook":{"clientConfig":{"url":%q,"caBundle":null,"service":null},"conversionReviewVersions":["v1"]}}}}`, url)
	for _, name := range certs.DefaultCRDs() {
		crd := &unstructured.Unstructured{}
		crd.SetAPIVersion("apiextensions.k8s.io/v1")
		crd.SetKind("CustomResourceDefinition")
		crd.SetName(name)
		if err := c.Patch(ctx, crd, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
			return fmt.Errorf("webhooktest: point CRD %s's conversion at %s: %w", name, url, err)
		}
	}
	return nil
}

// WaitConverting polls, for up to a minute, until a BgpPeer written
// through v1alpha1 reads back through v1alpha2 with its config under
// conf, which only the conversion webhook does (conversion None would
// leave conf empty): the CRD change has reached the API server's handlers
// and the caBundle is trusted. Each probe is created and deleted again.
func WaitConverting(ctx context.Context, c client.Client) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		probe := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "network.kubesphere.io/v1alpha1", "kind": "BgpPeer",
			"metadata": map[string]any{"generateName": "webhooktest-probe-"},
			"spec":     map[string]any{"config": map[string]any{"peerAs": int64(64512), "neighborAddress": "192.0.2.255"}},
		}}
		if last = c.Create(ctx, probe); last != nil {
			return false, nil
		}
		defer func() { _ = c.Delete(ctx, probe) }()
		var read v1alpha2.BgpPeer
		if last = c.Get(ctx, client.ObjectKeyFromObject(probe), &read); last != nil {
			return false, nil
		}
		if read.Spec.Conf == nil || read.Spec.Conf.PeerAs != 64512 {
			last = fmt.Errorf("v1alpha1 config read through v1alpha2 as conf %+v", read.Spec.Conf)
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("webhooktest: v1alpha1 writes do not convert: %w (last answer: %v)", err, last)
	}
	return nil
}
