package speaker

import (
	"context"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestUninstallCheck against the real API server: a pod whose DaemonSet
// stays is a rollout; its DaemonSet gone or being deleted, or its
// namespace being deleted, is an uninstall; without a pod name, a pod or
// an owner, the check cannot tell and says "not leaving".
func TestUninstallCheck(t *testing.T) {
	ctx := context.Background()
	c := env.Client
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "uninstall-"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "speaker"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "herald-speaker"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "speaker", Image: "herald-speaker"}}},
			},
		},
	}
	if err := c.Create(ctx, ds); err != nil {
		t.Fatal(err)
	}
	pod := func(name string, owner *appsv1.DaemonSet) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: name, Labels: labels},
			Spec:       corev1.PodSpec{NodeName: "node1", Containers: []corev1.Container{{Name: "speaker", Image: "herald-speaker"}}},
		}
		if owner != nil {
			p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: owner.Name, UID: owner.UID, Controller: ptr.To(true)}}
		}
		if err := c.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	owned := pod("herald-speaker-abcde", ds)
	orphan := pod("orphan", nil)
	check := func(podName string, wantLeaving bool, wantWhy string) {
		t.Helper()
		leaving, why := UninstallCheck{Reader: c, PodName: podName, Namespace: ns.Name}.Leaving(ctx)
		if leaving != wantLeaving || !strings.Contains(why, wantWhy) {
			t.Errorf("pod %q: Leaving = %v, %q; want %v, containing %q", podName, leaving, why, wantLeaving, wantWhy)
		}
	}

	check(owned.Name, false, "stays: a restart or rollout")
	check("", false, "no pod name")
	check("missing", false, "not found")
	check(orphan.Name, false, "has no DaemonSet owner")

	// helm uninstall: the DaemonSet is deleted (a finalizer holds it here,
	// as foreground deletion would), then gone.
	ds.Finalizers = []string{"herald.io/test"}
	if err := c.Update(ctx, ds); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, ds); err != nil {
		t.Fatal(err)
	}
	check(owned.Name, true, "is being deleted")
	ds.Finalizers = nil
	if err := c.Patch(ctx, ds, client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"finalizers":null}}`))); err != nil {
		t.Fatal(err)
	}
	check(owned.Name, true, "is gone")

	// kubectl delete -f deploy/herald.yaml: the namespace goes (there is
	// no namespace controller here, so it stays Terminating).
	if err := c.Delete(ctx, ns); err != nil {
		t.Fatal(err)
	}
	check(orphan.Name, true, "is being deleted")
}

// refusingReader answers every read with err, as the API server does once
// an uninstall deleted the speaker's RBAC objects or ServiceAccount.
type refusingReader struct {
	client.Reader
	err error
}

func (r refusingReader) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return r.err
}

// TestUninstallCheckLostAccess: Forbidden and Unauthorized mean the
// speaker's RBAC or ServiceAccount went, which only an uninstall does;
// any other error still means "cannot tell: keep graceful restart".
func TestUninstallCheckLostAccess(t *testing.T) {
	gr := schema.GroupResource{Resource: "namespaces"}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{apierrors.NewForbidden(gr, "herald-system", errors.New("RBAC: role not found")), true},
		{apierrors.NewUnauthorized("invalid bearer token"), true},
		{apierrors.NewServiceUnavailable("etcd is down"), false},
		{context.DeadlineExceeded, false},
	} {
		leaving, why := UninstallCheck{Reader: refusingReader{err: tc.err}, PodName: "p", Namespace: "herald-system"}.Leaving(context.Background())
		if leaving != tc.want {
			t.Errorf("%v: Leaving = %v (%s), want %v", tc.err, leaving, why, tc.want)
		}
		if tc.want && !strings.Contains(why, "only an uninstall does") {
			t.Errorf("%v: why = %q, want the reason spelled out", tc.err, why)
		}
	}
}
