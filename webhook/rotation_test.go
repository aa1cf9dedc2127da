package webhook_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/webhook/certs"
)

// TestCertificateRotation runs a second webhook server whose certificates
// live seconds, so that the serving certificate and the CA both rotate
// during the test, while admission requests keep flowing through the real
// API server. None may fail, and every certificate served must verify
// against the caBundle the API server holds at that moment.
func TestCertificateRotation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	labels := map[string]string{suiteLabel: "rotation"}
	s, err := startServer(ctx, "rotation", metav1.LabelSelector{MatchLabels: labels}, certs.Options{
		CAValidity:       10 * time.Second,
		CertValidity:     4 * time.Second,
		RefreshFraction:  0.5,
		PropagationDelay: time.Second,
		CheckInterval:    250 * time.Millisecond,
		// The CRDs call the suite's server; this one must leave them be.
		CRDs: []string{},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.stop()
		for _, obj := range []client.Object{
			&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "herald-validating-rotation"}},
			&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "herald-mutating-rotation"}},
		} {
			if err := env.Client.Delete(context.Background(), obj); err != nil {
				t.Errorf("delete %s: %v", obj.GetName(), err)
			}
		}
	})

	c, _ := userClient(t)
	bad := fmt.Sprintf(`
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpPeer
metadata: {name: rotation-bad, labels: {%s: rotation}}
spec: {conf: {peerAs: 50000, neighborAddress: router.example}}`, suiteLabel)
	good := fmt.Sprintf(`
apiVersion: network.kubesphere.io/v1alpha2
kind: Eip
metadata: {name: rotation-good, labels: {%s: rotation}}
spec: {address: 10.66.0.0/24}`, suiteLabel)

	// admit sends the bad manifest and the good one and reports anything
	// but a refusal of the first by the BgpPeer webhook and an admission
	// of the second.
	admit := func(opts ...client.CreateOption) error {
		err := c.Create(ctx, manifest(t, bad), opts...)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), byBgpPeer) {
			return fmt.Errorf("bad manifest: got %v, want a refusal by the BgpPeer webhook", err)
		}
		if err := c.Create(ctx, manifest(t, good), opts...); err != nil {
			return fmt.Errorf("good manifest: %w", err)
		}
		return nil
	}

	// Keep admission busy for the whole rotation.
	var (
		mu       sync.Mutex
		requests int
		failures []error
	)
	hammerCtx, stopHammer := context.WithCancel(ctx)
	hammerDone := make(chan struct{})
	go func() {
		defer close(hammerDone)
		for hammerCtx.Err() == nil {
			err := admit(client.DryRunAll)
			mu.Lock()
			requests++
			if err != nil && hammerCtx.Err() == nil {
				failures = append(failures, err)
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()

	// Watch what the server presents until the serving certificate has
	// changed twice and its issuer once, within a bound.
	var serials, issuers []string
	seen := func(list []string, v string) []string {
		if len(list) == 0 || list[len(list)-1] != v {
			return append(list, v)
		}
		return list
	}
	deadline := time.Now().Add(40 * time.Second)
	for len(serials) < 3 || len(issuers) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("within 40 s saw serving certificates %v from issuers %v; want 3 and 2", serials, issuers)
		}
		leaf, err := served(s.addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := verifiesAgainstCABundle(ctx, leaf); err != nil {
			t.Errorf("served certificate %s: %v", leaf.SerialNumber.Text(16), err)
		}
		serials, issuers = seen(serials, leaf.SerialNumber.Text(16)), seen(issuers, leaf.Issuer.CommonName)
		time.Sleep(50 * time.Millisecond)
	}
	stopHammer()
	<-hammerDone
	t.Logf("serving certificates %v from CAs %v; %d admission rounds during the rotation", serials, issuers, requests)

	mu.Lock()
	defer mu.Unlock()
	if len(failures) > 0 {
		t.Errorf("%d of %d admission rounds failed during the rotation; first: %v", len(failures), requests, failures[0])
	}
	if requests == 0 {
		t.Error("no admission request was made during the rotation")
	}

	// After the rotation, for real: the bad one refused, the good one stored.
	if err := admit(); err != nil {
		t.Error(err)
	}
	deleteAfter(t, manifest(t, good))
}

// served returns the certificate the webhook server presents now.
func served(addr string) (*x509.Certificate, error) {
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // Inspected, then verified by hand.
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

// verifiesAgainstCABundle checks the certificate as the API server would,
// against the caBundle of every webhook of the rotation server.
func verifiesAgainstCABundle(ctx context.Context, leaf *x509.Certificate) error {
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "herald-validating-rotation"}, &v); err != nil {
		return err
	}
	var errs []error
	for _, w := range v.Webhooks {
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(w.ClientConfig.CABundle) {
			errs = append(errs, fmt.Errorf("webhook %s: caBundle holds no certificate", w.Name))
			continue
		}
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "127.0.0.1", Roots: roots}); err != nil {
			errs = append(errs, fmt.Errorf("webhook %s: %w", w.Name, err))
		}
	}
	return errors.Join(errs...)
}
