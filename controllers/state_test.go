package controllers

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// flakyNamespaces fails the first n Namespace Gets through it, as a cache
// read may fail while the controller starts or the API server is slow.
type flakyNamespaces struct {
	client.Reader
	left atomic.Int32
}

var errInjected = errors.New("injected namespace read failure")

func (f *flakyNamespaces) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*corev1.Namespace); ok && f.left.Add(-1) >= 0 {
		return errInjected
	}
	return f.Reader.Get(ctx, key, obj, opts...)
}

// TestNamespaceReadFailureRetried: a failed read of a Service's namespace
// is not taken for a namespace without labels. The Service waits and gets
// the Eip its namespace's labels select, not the default one.
func TestNamespaceReadFailureRetried(t *testing.T) {
	flaky := &flakyNamespaces{}
	flaky.left.Store(3)
	startController(t, Options{wrapReader: func(r client.Reader) client.Reader {
		flaky.Reader = r
		return flaky
	}})
	ns := namespace(t, map[string]string{"team": "flaky"})
	createEip(t, "flaky-default", "192.0.2.160/30", asDefault)
	createEip(t, "flaky-bound", "198.51.100.160/30", func(e *v1alpha2.Eip) {
		e.Spec.NamespaceSelector = map[string]string{"team": "flaky"}
	})
	createService(t, ns, "bound")
	waitIngress(t, ns, "bound", "198.51.100.160")
	if left := flaky.left.Load(); left >= 0 {
		t.Fatalf("only %d of 3 injected failures were hit", 3-left)
	}
}
