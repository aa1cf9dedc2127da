package certs

import (
	"context"
	"encoding/base64"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The CRDs' conversion webhook is served by the same server as the
// admission webhooks, so the API server must trust the same CA when it
// calls /convert: their spec.conversion.webhook.clientConfig.caBundle is
// kept like the configurations' (staged CA included). A CRD whose
// conversion strategy is not Webhook (None, as in config/crd/bases) has no
// caBundle to keep and is left alone.
//
// The rule below is limited to Herald's three CRDs by name: updating a CRD
// can change its schema, and no other CRD is Herald's business. get and
// update are all the Rotator does (it reads through the API reader, never
// a cache, so it needs no list or watch). The names are fixed by the API
// group, not by the install, which is why a marker can spell them out.
//
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get;update,resourceNames=eips.network.kubesphere.io;bgpconfs.network.kubesphere.io;bgppeers.network.kubesphere.io

// crdGVK is read and written as unstructured, so that the Rotator works
// with any manager's scheme.
var crdGVK = schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}

// DefaultCRDs returns the CRDs whose conversion caBundle the Rotator keeps
// when Options.CRDs is nil: network.kubesphere.io's Eip, BgpConf and
// BgpPeer.
func DefaultCRDs() []string {
	return []string{"eips.network.kubesphere.io", "bgpconfs.network.kubesphere.io", "bgppeers.network.kubesphere.io"}
}

// caBundlePath is where a CRD keeps the conversion webhook's CA bundle.
var caBundlePath = []string{"spec", "conversion", "webhook", "clientConfig", "caBundle"}

// conversionCRDs reads the CRDs to patch: those named in Options.CRDs that
// exist and convert through a webhook.
func (r *Rotator) conversionCRDs(ctx context.Context) ([]client.Object, error) {
	var objs []client.Object
	for _, name := range r.opts.CRDs {
		crd := &unstructured.Unstructured{}
		crd.SetGroupVersionKind(crdGVK)
		err := r.reader.Get(ctx, client.ObjectKey{Name: name}, crd)
		switch {
		case apierrors.IsNotFound(err):
			r.log.V(1).Info("CRD not found; nothing to patch", "customResourceDefinition", name)
			continue
		case err != nil:
			return nil, fmt.Errorf("get CRD %q: %w", name, err)
		}
		if strategy, _, _ := unstructured.NestedString(crd.Object, "spec", "conversion", "strategy"); strategy != "Webhook" {
			r.log.V(1).Info("CRD converts without a webhook; no caBundle to keep", "customResourceDefinition", name, "strategy", strategy)
			continue
		}
		objs = append(objs, crd)
	}
	return objs, nil
}

// crdCABundle returns a CRD's conversion caBundle, decoded; nil when it
// has none or it is not base64.
func crdCABundle(crd *unstructured.Unstructured) []byte {
	text, _, _ := unstructured.NestedString(crd.Object, caBundlePath...)
	b, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil
	}
	return b
}

// setCRDCABundle writes the caBundle into a CRD's conversion webhook.
func setCRDCABundle(crd *unstructured.Unstructured, bundle []byte) error {
	return unstructured.SetNestedField(crd.Object, base64.StdEncoding.EncodeToString(bundle), caBundlePath...)
}
