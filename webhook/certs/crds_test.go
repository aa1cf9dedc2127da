package certs

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// crd is one of Herald's CRDs, converting through the webhook Service or,
// with webhook false, with strategy None.
func crd(name string, webhook bool) *apiextensionsv1.CustomResourceDefinition {
	c := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: name}}
	c.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{Strategy: apiextensionsv1.NoneConverter}
	if webhook {
		path := "/convert"
		c.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{
			Strategy: apiextensionsv1.WebhookConverter,
			Webhook: &apiextensionsv1.WebhookConversion{
				ClientConfig:             &apiextensionsv1.WebhookClientConfig{Service: &apiextensionsv1.ServiceReference{Namespace: "ns", Name: "svc", Path: &path}},
				ConversionReviewVersions: []string{"v1"},
			},
		}
	}
	return c
}

// conversionBundle reads a CRD's conversion caBundle; nil without a
// conversion webhook.
func conversionBundle(t *testing.T, c client.Client, name string) []byte {
	t.Helper()
	var got apiextensionsv1.CustomResourceDefinition
	if err := c.Get(context.Background(), client.ObjectKey{Name: name}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.Conversion == nil || got.Spec.Conversion.Webhook == nil || got.Spec.Conversion.Webhook.ClientConfig == nil {
		return nil
	}
	return got.Spec.Conversion.Webhook.ClientConfig.CABundle
}

// TestCRDsGetTheBundle: a CRD that converts through the webhook gets the
// caBundle at bootstrap, the staged CA next to the current one, and the
// promoted CA; while it does not hold the staged CA (someone re-applied
// the manifest), the staged CA is not promoted, exactly as for the webhook
// configurations. A CRD with conversion None, and one that does not exist,
// are left alone.
func TestCRDsGetTheBundle(t *testing.T) {
	ctx := context.Background()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	v, m := webhookConfigs()
	names := DefaultCRDs()
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(v, m, crd(names[0], true), crd(names[1], false)).Build()
	clk := &clock{now: t0}
	r, err := New(Options{
		CertDir: t.TempDir(), CAValidity: 100 * time.Hour, CertValidity: 30 * time.Hour, PropagationDelay: time.Hour,
		Now: clk.Now,
	}, c, c, testr.New(t))
	if err != nil {
		t.Fatal(err)
	}
	sync := func(step string) State {
		t.Helper()
		if _, err := r.sync(ctx); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		st := secretState(t, c)
		if got := conversionBundle(t, c, names[0]); !bytes.Equal(got, st.Bundle()) {
			t.Errorf("%s: CRD %s has another caBundle than the Secret's", step, names[0])
		}
		for _, b := range bundles(t, c) {
			if !bytes.Equal(b, st.Bundle()) {
				t.Errorf("%s: a webhook configuration has another caBundle than the Secret's", step)
			}
		}
		if got := conversionBundle(t, c, names[1]); got != nil {
			t.Errorf("%s: CRD %s converts with None, but got a caBundle", step, names[1])
		}
		return st
	}

	first := sync("bootstrap")
	clk.Set(t0.Add(67 * time.Hour))
	staged := sync("staged")
	if staged.NextCA == nil {
		t.Fatal("no CA staged after the CA came due")
	}

	// Someone re-applies the CRD with the old bundle; an hour later the
	// staged CA would be due for promotion, but the CRD does not trust it.
	var old apiextensionsv1.CustomResourceDefinition
	if err := c.Get(ctx, client.ObjectKey{Name: names[0]}, &old); err != nil {
		t.Fatal(err)
	}
	old.Spec.Conversion.Webhook.ClientConfig.CABundle = first.Bundle()
	if err := c.Update(ctx, &old); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(69 * time.Hour))
	held := sync("CRD without the staged CA")
	if !held.CA.Cert.Equal(first.CA.Cert) {
		t.Fatal("the staged CA was promoted although a CRD did not trust it yet")
	}
	rotated := sync("rotated")
	if rotated.CA.Cert.Equal(first.CA.Cert) || !rotated.CA.Cert.Equal(staged.NextCA.Cert) {
		t.Fatal("the staged CA was not promoted once the CRD trusted it")
	}
}
