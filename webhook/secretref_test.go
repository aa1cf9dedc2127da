package webhook_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/webhook"
	"github.com/herald-lb/herald/webhook/certs"
)

// TestPeerSecretNamespace: the speakers may read Secrets in Herald's
// namespace only, so a BgpPeer whose password Secret is anywhere else is
// refused at `kubectl apply`, with a message that says where to put it;
// one that names no namespace means Herald's.
func TestPeerSecretNamespace(t *testing.T) {
	ctx := context.Background()
	c, _ := userClient(t)
	// Each BgpPeer has a neighbour of its own: two with one neighbour on
	// the same nodes are refused for that alone.
	peer := func(name, neighbor, ref string) string {
		return "apiVersion: network.kubesphere.io/v1alpha2\nkind: BgpPeer\nmetadata: {name: " + name + "}\n" +
			"spec: {conf: {peerAs: 50000, neighborAddress: " + neighbor + ", authPasswordSecretRef: " + ref + "}}"
	}
	for _, tt := range []struct{ name, neighbor, ref string }{
		{"secret-in-herald-namespace", "172.22.0.9", "{namespace: " + certs.DefaultNamespace + ", name: bgp-auth}"},
		{"secret-without-namespace", "172.22.0.10", "{name: bgp-auth, key: md5}"},
	} {
		obj := manifest(t, peer(tt.name, tt.neighbor, tt.ref))
		if err := c.Create(ctx, obj); err != nil {
			t.Errorf("%s: refused: %v", tt.name, err)
			continue
		}
		deleteAfter(t, obj)
	}

	err := c.Create(ctx, manifest(t, peer("secret-in-default", "172.22.0.11", "{namespace: default, name: bgp-auth}")))
	checkSecretRefusal(t, "create", err)

	// An edit that moves the Secret elsewhere is refused as well.
	moved := &v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: "secret-in-herald-namespace"}}
	err = c.Patch(ctx, moved, client.RawPatch(types.MergePatchType,
		[]byte(`{"spec":{"conf":{"authPasswordSecretRef":{"namespace":"kube-system"}}}}`)))
	checkSecretRefusal(t, "update", err)
}

// checkSecretRefusal wants err to be the webhook's refusal at the Secret's
// namespace, naming the namespace the Secret belongs in.
func checkSecretRefusal(t *testing.T, op string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: a Secret outside %s admitted; want it refused", op, certs.DefaultNamespace)
	}
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), byBgpPeer) {
		t.Fatalf("%s: refused with %v; want the BgpPeer webhook's 422", op, err)
	}
	var status *apierrors.StatusError
	if !errors.As(err, &status) {
		t.Fatalf("%s: %v is no status error", op, err)
	}
	for _, cause := range status.ErrStatus.Details.Causes {
		if cause.Field == "spec.conf.authPasswordSecretRef.namespace" &&
			strings.Contains(cause.Message, "create the Secret in namespace "+certs.DefaultNamespace) {
			return
		}
	}
	t.Errorf("%s: no cause at spec.conf.authPasswordSecretRef.namespace saying where the Secret belongs: %v", op, err)
}

// TestPeerSecretNamespaceConfigured: the validator judges against the
// namespace it is given (the controller's own), not a fixed one.
func TestPeerSecretNamespaceConfigured(t *testing.T) {
	ctx := context.Background()
	v := webhook.BgpPeerValidator{Reader: env.Client, Namespace: "lb-system"}
	p := &v1alpha2.BgpPeer{
		ObjectMeta: metav1.ObjectMeta{Name: "tor"},
		Spec: v1alpha2.BgpPeerSpec{Conf: &v1alpha2.PeerConf{PeerAs: 50000, NeighborAddress: "172.22.0.9",
			AuthPasswordSecretRef: &v1alpha2.SecretKeyRef{Namespace: "lb-system", Name: "bgp-auth"}}},
	}
	if _, err := v.ValidateCreate(ctx, p); err != nil {
		t.Errorf("Secret in lb-system refused: %v", err)
	}
	p.Spec.Conf.AuthPasswordSecretRef.Namespace = certs.DefaultNamespace
	_, err := v.ValidateCreate(ctx, p)
	if err == nil || !strings.Contains(err.Error(), "create the Secret in namespace lb-system") {
		t.Errorf("Secret in %s: got %v; want it refused, pointing at lb-system", certs.DefaultNamespace, err)
	}
}
