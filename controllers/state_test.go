package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// flakyNamespaces fails the first n Namespace Gets through it with err, as
// a cache read may fail while the controller starts or the API server is
// slow, or miss a namespace its informer has not delivered yet.
type flakyNamespaces struct {
	client.Reader
	err  error
	left atomic.Int32
}

func (f *flakyNamespaces) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*corev1.Namespace); ok && f.left.Add(-1) >= 0 {
		return f.err
	}
	return f.Reader.Get(ctx, key, obj, opts...)
}

// TestNamespaceReadFailureRetried: a failed read of a Service's namespace
// is not taken for a namespace without labels. The Service waits and gets
// the Eip its namespace's labels select, not the default one.
func TestNamespaceReadFailureRetried(t *testing.T) {
	for i, c := range []struct {
		name string
		err  error
	}{
		{"read error", errors.New("injected namespace read failure")},
		{"not in the cache yet", apierrors.NewNotFound(corev1.Resource("namespaces"), "injected")},
	} {
		t.Run(c.name, func(t *testing.T) {
			flaky := &flakyNamespaces{err: c.err}
			flaky.left.Store(3)
			startController(t, Options{wrapReader: func(r client.Reader) client.Reader {
				flaky.Reader = r
				return flaky
			}})
			label := fmt.Sprint("flaky-", i)
			ns := namespace(t, map[string]string{"team": label})
			createEip(t, label+"-default", fmt.Sprintf("192.0.2.%d/30", 160+4*i), asDefault)
			createEip(t, label+"-bound", fmt.Sprintf("198.51.100.%d/30", 160+4*i), func(e *v1alpha2.Eip) {
				e.Spec.NamespaceSelector = map[string]string{"team": label}
			})
			createService(t, ns, "bound")
			waitIngress(t, ns, "bound", fmt.Sprintf("198.51.100.%d", 160+4*i))
			if left := flaky.left.Load(); left >= 0 {
				t.Fatalf("only %d of 3 injected failures were hit", 3-left)
			}
		})
	}
}
