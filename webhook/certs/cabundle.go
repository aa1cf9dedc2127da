package certs

import (
	"bytes"
	"context"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// webhookConfigs reads the objects whose caBundle to keep: the webhook
// configurations and the CRDs that convert through the webhook server
// (conversionCRDs). A missing one is left out: Herald may be deployed
// without its mutating webhook, and the configurations may be applied after
// the controller starts.
func (r *Rotator) webhookConfigs(ctx context.Context) ([]client.Object, error) {
	objs, err := r.conversionCRDs(ctx)
	if err != nil {
		return nil, err
	}
	for _, obj := range []client.Object{
		&admissionregistrationv1.ValidatingWebhookConfiguration{},
		&admissionregistrationv1.MutatingWebhookConfiguration{},
	} {
		name := r.opts.ValidatingWebhookConfiguration
		if _, ok := obj.(*admissionregistrationv1.MutatingWebhookConfiguration); ok {
			name = r.opts.MutatingWebhookConfiguration
		}
		err := r.reader.Get(ctx, client.ObjectKey{Name: name}, obj)
		switch {
		case apierrors.IsNotFound(err):
			r.log.V(1).Info("webhook configuration not found; nothing to patch", "webhookConfiguration", name)
		case err != nil:
			return nil, fmt.Errorf("get webhook configuration %q: %w", name, err)
		default:
			objs = append(objs, obj)
		}
	}
	return objs, nil
}

// caBundles returns the caBundle of every webhook of a configuration, or
// a CRD's conversion caBundle.
func caBundles(obj client.Object) [][]byte {
	var bundles [][]byte
	switch c := obj.(type) {
	case *unstructured.Unstructured:
		bundles = append(bundles, crdCABundle(c))
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		for i := range c.Webhooks {
			bundles = append(bundles, c.Webhooks[i].ClientConfig.CABundle)
		}
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		for i := range c.Webhooks {
			bundles = append(bundles, c.Webhooks[i].ClientConfig.CABundle)
		}
	}
	return bundles
}

// setCABundle gives every webhook of a configuration, or a CRD's
// conversion webhook, the bundle and reports whether any differed.
func setCABundle(obj client.Object, bundle []byte) (bool, error) {
	changed := false
	set := func(cc *admissionregistrationv1.WebhookClientConfig) {
		if !bytes.Equal(cc.CABundle, bundle) {
			cc.CABundle = bytes.Clone(bundle)
			changed = true
		}
	}
	switch c := obj.(type) {
	case *unstructured.Unstructured:
		if bytes.Equal(crdCABundle(c), bundle) {
			return false, nil
		}
		return true, setCRDCABundle(c, bundle)
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		for i := range c.Webhooks {
			set(&c.Webhooks[i].ClientConfig)
		}
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		for i := range c.Webhooks {
			set(&c.Webhooks[i].ClientConfig)
		}
	}
	return changed, nil
}

// patchCABundles writes the bundle into every webhook of the
// configurations. The update carries the resourceVersion read before the
// Secret was: if another replica changed the Secret and then the
// configuration in between, this update fails with a conflict instead of
// putting an older bundle back.
func (r *Rotator) patchCABundles(ctx context.Context, configs []client.Object, bundle []byte) error {
	for _, obj := range configs {
		changed, err := setCABundle(obj, bundle)
		if err != nil {
			return fmt.Errorf("set caBundle of %s %q: %w", kind(obj), obj.GetName(), err)
		}
		if !changed {
			continue
		}
		if err := r.client.Update(ctx, obj); err != nil {
			return fmt.Errorf("update caBundle of %s %q: %w", kind(obj), obj.GetName(), err)
		}
		r.log.Info("caBundle updated", "webhookConfiguration", obj.GetName(), "kind", kind(obj))
	}
	return nil
}

func kind(obj client.Object) string {
	switch obj.(type) {
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		return "MutatingWebhookConfiguration"
	case *unstructured.Unstructured:
		return crdGVK.Kind
	}
	return "ValidatingWebhookConfiguration"
}
