package controllers

import (
	"context"
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// eipCRDName is the CustomResourceDefinition of Eips.
const eipCRDName = "eips.network.kubesphere.io"

// ReasonUninstalled is the Warning event of an Eip let go while Services
// still held its addresses, because Herald's API itself is being removed.
const ReasonUninstalled = "Uninstalled"

// eipCRDDeleting reports whether the Eip CRD is being deleted: Herald is
// being uninstalled (`kubectl delete -f deploy/herald.yaml`), every Eip
// goes with its CRD whatever its finalizer says, and holding the finalizer
// for the Services would only leave the Eips and the CRD stuck Terminating
// once the controller itself is gone. It reads through r uncached (one Get
// per Eip deletion that waits on Services), by name, which the role allows.
func eipCRDDeleting(ctx context.Context, r client.Reader) (bool, error) {
	var crd metav1.PartialObjectMetadata
	crd.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
	if err := r.Get(ctx, client.ObjectKey{Name: eipCRDName}, &crd); err != nil {
		return false, fmt.Errorf("crd %q: %w", eipCRDName, err)
	}
	return crd.DeletionTimestamp != nil, nil
}
