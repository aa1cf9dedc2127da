package manifests_test

import (
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/herald-lb/herald/webhook/certs"
)

// TestCRDConversionCallsTheWebhookService: every CRD of the release
// converts between v1alpha1 and v1alpha2 by calling /convert on the
// webhook Service (kustomize must have renamed the patch's
// "webhook-service" in "system" like the configurations'), carries no
// fixed caBundle (the controller fills it in), and is one the controller
// is told to keep the caBundle of (--conversion-crds, whose default must
// be the same list).
func TestCRDConversionCallsTheWebhookService(t *testing.T) {
	r := loadRelease(t)
	managed := certs.DefaultCRDs()
	if v, ok := r.controller.args["conversion-crds"]; ok {
		managed = strings.Split(v, ",")
	}
	if !slices.Equal(managed, certs.DefaultCRDs()) {
		t.Errorf("--conversion-crds=%s, want the default %s", strings.Join(managed, ","), strings.Join(certs.DefaultCRDs(), ","))
	}
	crds := ofKind[apiextensionsv1.CustomResourceDefinition](t, r.objs, "CustomResourceDefinition")
	if len(crds) == 0 {
		t.Fatal("no CRDs in the release")
	}
	var names []string
	for _, crd := range crds {
		names = append(names, crd.Name)
		c := crd.Spec.Conversion
		if c == nil || c.Strategy != apiextensionsv1.WebhookConverter || c.Webhook == nil || c.Webhook.ClientConfig == nil {
			t.Errorf("CRD %s: conversion %+v, want strategy Webhook", crd.Name, c)
			continue
		}
		cc := c.Webhook.ClientConfig
		switch {
		case cc.Service == nil:
			t.Errorf("CRD %s: conversion clientConfig has no service", crd.Name)
		case cc.Service.Name != r.webhookSvc.Name || cc.Service.Namespace != r.webhookSvc.Namespace:
			t.Errorf("CRD %s: conversion service %s/%s, want %s/%s", crd.Name,
				cc.Service.Namespace, cc.Service.Name, r.webhookSvc.Namespace, r.webhookSvc.Name)
		case cc.Service.Path == nil || *cc.Service.Path != "/convert":
			t.Errorf("CRD %s: conversion path %v, want /convert (where controller-runtime serves conversions)", crd.Name, cc.Service.Path)
		case cc.Service.Port != nil && *cc.Service.Port != r.webhookSvc.Spec.Ports[0].Port:
			t.Errorf("CRD %s: conversion port %d is not the Service's", crd.Name, *cc.Service.Port)
		}
		if len(cc.CABundle) != 0 {
			t.Errorf("CRD %s: conversion caBundle is set; the controller fills it in", crd.Name)
		}
		if !slices.Contains(c.Webhook.ConversionReviewVersions, "v1") {
			t.Errorf("CRD %s: conversionReviewVersions %v, want v1 (what controller-runtime answers)", crd.Name, c.Webhook.ConversionReviewVersions)
		}
		var served, storage []string
		for _, v := range crd.Spec.Versions {
			if v.Served {
				served = append(served, v.Name)
			}
			if v.Storage {
				storage = append(storage, v.Name)
			}
		}
		if !slices.Equal(served, []string{"v1alpha1", "v1alpha2"}) || !slices.Equal(storage, []string{"v1alpha2"}) {
			t.Errorf("CRD %s: serves %v, stores %v; want both versions served and v1alpha2 stored", crd.Name, served, storage)
		}
	}
	slices.Sort(names)
	want := slices.Sorted(slices.Values(managed))
	if !slices.Equal(names, want) {
		t.Errorf("the release's CRDs are %v, but the controller keeps the caBundle of %v", names, want)
	}
}
