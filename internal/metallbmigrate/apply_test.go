package metallbmigrate_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/metallbmigrate"
	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/webhook/webhooktest"
)

// TestMigratedObjectsAreAccepted applies what the main example translates
// to, in both of MetalLB's formats, to a real API server with Herald's
// CRDs and admission webhooks: the CRD schemas and the webhooks must
// accept every object as printed.
func TestMigratedObjectsAreAccepted(t *testing.T) {
	log.SetLogger(logr.Discard())
	env := testenv.Start(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The webhook configurations exist before the server starts, so that
	// its certificate rotator's first round fills in their caBundle; their
	// URLs point at the server once its port is known.
	const placeholder = "https://127.0.0.1:1"
	configs, err := webhooktest.Configurations(placeholder)
	if err != nil {
		t.Fatal(err)
	}
	// Until then they must not block webhooktest.Start's own probe writes.
	for _, obj := range configs {
		if err := env.Client.Create(ctx, withFailurePolicy(obj, admissionregistrationv1.Ignore)); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := webhooktest.Start(ctx, env.Config, env.Scheme)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	}()
	for _, obj := range configs {
		testenv.Eventually(t, 30*time.Second, func() error {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
				return err
			}
			for _, cc := range clientConfigs(obj) {
				if len(cc.CABundle) == 0 {
					return fmt.Errorf("%s: no caBundle yet", obj.GetName())
				}
				cc.URL = ptr.To(strings.Replace(*cc.URL, placeholder, srv.URL, 1))
			}
			return env.Client.Update(ctx, withFailurePolicy(obj, admissionregistrationv1.Fail))
		})
	}
	// The API server reads new webhook configurations asynchronously: wait
	// until the Eip webhook refuses what only it refuses (a layer2 Eip
	// without an interface), so that the objects below meet it.
	probe := &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: "probe"}, Spec: v1alpha2.EipSpec{Address: "192.0.2.1", Protocol: v1alpha2.ProtocolLayer2}}
	testenv.Eventually(t, 30*time.Second, func() error {
		err := env.Client.Create(ctx, probe.DeepCopy(), client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "interface") {
			return errors.New("the Eip webhook does not answer yet")
		}
		return nil
	})

	for _, tc := range []struct {
		file string
		opts metallbmigrate.Options
	}{
		{"testdata/classic.yaml", metallbmigrate.Options{Layer2Interface: "eth0"}},
		{"testdata/crds.yaml", metallbmigrate.Options{}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			res, err := metallbmigrate.Convert(tc.opts, metallbmigrate.Input{Name: tc.file, R: f})
			if err != nil {
				t.Fatal(err)
			}
			var created []client.Object
			for _, o := range res.Objects {
				obj := o.Obj.DeepCopyObject().(client.Object)
				if err := env.Client.Create(ctx, obj, testenv.Strict); err != nil {
					t.Errorf("%s %s: %v", o.Obj.GetObjectKind().GroupVersionKind().Kind, o.Obj.GetName(), err)
					continue
				}
				created = append(created, obj)
			}
			// The two formats translate to the same objects: clear the
			// way for the next one.
			for i := len(created) - 1; i >= 0; i-- {
				if err := env.Client.Delete(ctx, created[i]); err != nil && !apierrors.IsNotFound(err) {
					t.Fatal(err)
				}
			}
			for _, obj := range created {
				testenv.Eventually(t, 30*time.Second, func() error {
					err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj.DeepCopyObject().(client.Object))
					if apierrors.IsNotFound(err) {
						return nil
					}
					return errors.New(obj.GetName() + " is not gone yet")
				})
			}
		})
	}
}

// clientConfigs are the client configurations of a webhook configuration.
func clientConfigs(obj client.Object) []*admissionregistrationv1.WebhookClientConfig {
	var out []*admissionregistrationv1.WebhookClientConfig
	switch c := obj.(type) {
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		for i := range c.Webhooks {
			out = append(out, &c.Webhooks[i].ClientConfig)
		}
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		for i := range c.Webhooks {
			out = append(out, &c.Webhooks[i].ClientConfig)
		}
	}
	return out
}

// withFailurePolicy sets every webhook's failure policy and returns obj.
func withFailurePolicy(obj client.Object, p admissionregistrationv1.FailurePolicyType) client.Object {
	switch c := obj.(type) {
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		for i := range c.Webhooks {
			c.Webhooks[i].FailurePolicy = ptr.To(p)
		}
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		for i := range c.Webhooks {
			c.Webhooks[i].FailurePolicy = ptr.To(p)
		}
	}
	return obj
}
