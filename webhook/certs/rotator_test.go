package certs

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// clock is a settable time source shared by the rotators of a test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

func webhookConfigs() (*admissionregistrationv1.ValidatingWebhookConfiguration, *admissionregistrationv1.MutatingWebhookConfiguration) {
	hook := func(name string) admissionregistrationv1.WebhookClientConfig {
		path := "/" + name
		return admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: "ns", Name: "svc", Path: &path}}
	}
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: DefaultValidatingWebhook},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{
			{Name: "veip.network.kubesphere.io", ClientConfig: hook("v-eip")},
			{Name: "vbgppeer.network.kubesphere.io", ClientConfig: hook("v-peer")},
		},
	}
	m := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: DefaultMutatingWebhook},
		Webhooks:   []admissionregistrationv1.MutatingWebhook{{Name: "meip.network.kubesphere.io", ClientConfig: hook("m-eip")}},
	}
	return v, m
}

// bundles returns every caBundle of both configurations.
func bundles(t *testing.T, c client.Client) [][]byte {
	t.Helper()
	ctx := context.Background()
	v, m := webhookConfigs()
	if err := c.Get(ctx, client.ObjectKeyFromObject(v), v); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(m), m); err != nil {
		t.Fatal(err)
	}
	return append(caBundles(v), caBundles(m)...)
}

func secretState(t *testing.T, c client.Client) State {
	t.Helper()
	var s corev1.Secret
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: DefaultNamespace, Name: DefaultSecretName}, &s); err != nil {
		t.Fatal(err)
	}
	st, problems := stateFromSecret(s.Data)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	return st
}

// TestTwoReplicasShareOneCA runs two Rotators against one (fake) API
// server through a whole CA rotation: both serve certificates of the same
// CA at every step, the caBundles always trust what is served, and a
// caBundle someone overwrites is put back.
func TestTwoReplicasShareOneCA(t *testing.T) {
	ctx := context.Background()
	scheme := clientgoscheme.Scheme
	v, m := webhookConfigs()
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(v, m).Build()
	clk := &clock{now: t0}

	var replicas []*Rotator
	var dirs []string
	for range 2 {
		dir := t.TempDir()
		r, err := New(Options{
			CertDir: dir, IPAddresses: []netip.Addr{netip.MustParseAddr("127.0.0.1")},
			CAValidity: 100 * time.Hour, CertValidity: 30 * time.Hour, PropagationDelay: time.Hour,
			Now: clk.Now,
		}, c, c, testr.New(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Check(nil); err == nil {
			t.Fatal("ready before any certificate was written")
		}
		replicas, dirs = append(replicas, r), append(dirs, dir)
	}
	syncAll := func() {
		t.Helper()
		for i, r := range replicas {
			if _, err := r.sync(ctx); err != nil {
				t.Fatalf("replica %d: %v", i, err)
			}
		}
	}
	// assertConsistent checks that both replicas serve the Secret's
	// certificate and that every caBundle is exactly the Secret's bundle.
	assertConsistent := func(step string) State {
		t.Helper()
		st := secretState(t, c)
		for i, dir := range dirs {
			got, err := os.ReadFile(filepath.Join(dir, "tls.crt"))
			if err != nil {
				t.Fatalf("%s: replica %d: %v", step, i, err)
			}
			if !bytes.Equal(got, st.Serving.CertPEM) {
				t.Errorf("%s: replica %d serves another certificate than the Secret's", step, i)
			}
		}
		for i, b := range bundles(t, c) {
			if !bytes.Equal(b, st.Bundle()) {
				t.Errorf("%s: webhook %d has another caBundle than the Secret's", step, i)
			}
		}
		return st
	}

	if err := replicas[0].Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if err := replicas[1].Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	for i, r := range replicas {
		select {
		case <-r.Ready():
		default:
			t.Errorf("replica %d not ready after Bootstrap", i)
		}
	}
	first := assertConsistent("bootstrap")

	// Someone applies the raw manifests again, or edits a caBundle.
	overwritten, _ := webhookConfigs()
	if err := c.Get(ctx, client.ObjectKeyFromObject(overwritten), overwritten); err != nil {
		t.Fatal(err)
	}
	overwritten.Webhooks[0].ClientConfig.CABundle = []byte("garbage")
	overwritten.Webhooks[1].ClientConfig.CABundle = nil
	if err := c.Update(ctx, overwritten); err != nil {
		t.Fatal(err)
	}
	syncAll()
	assertConsistent("after the caBundle was overwritten")

	// The CA comes due: its successor is staged in the caBundle, while the
	// served certificate stays the same.
	clk.Set(t0.Add(67 * time.Hour))
	syncAll()
	staged := assertConsistent("staged")
	if staged.NextCA == nil || !staged.CA.Cert.Equal(first.CA.Cert) {
		t.Fatalf("after the CA came due: CA changed=%v, staged=%v; want the same CA and a staged one",
			!staged.CA.Cert.Equal(first.CA.Cert), staged.NextCA != nil)
	}

	// An hour later the staged CA signs; the old one stays trusted.
	clk.Set(t0.Add(69 * time.Hour))
	syncAll()
	rotated := assertConsistent("rotated")
	want := []string{staged.NextCA.Cert.Subject.CommonName, first.CA.Cert.Subject.CommonName}
	var got []string
	certs, err := parseCerts(rotated.Bundle())
	if err != nil {
		t.Fatal(err)
	}
	for _, cert := range certs {
		got = append(got, cert.Subject.CommonName)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("caBundle after the rotation (-want +got):\n%s", diff)
	}
	if rotated.Serving.Cert.CheckSignatureFrom(staged.NextCA.Cert) != nil {
		t.Error("the serving certificate is not signed by the promoted CA")
	}
}
