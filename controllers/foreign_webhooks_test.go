package controllers

import (
	"context"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/webhook/certs"
)

// TestForeignWebhookReported: OpenELB's leftover admission configuration,
// which gates Eips with failurePolicy Fail, gets a Warning event naming
// it, what it blocks and the kubectl command that removes it; a foreign
// mutating one on every group is reported without the failurePolicy
// sentence (Ignore); Herald's own configuration and one on other groups
// get nothing. Nothing is deleted.
func TestForeignWebhookReported(t *testing.T) {
	ctx := context.Background()
	rule := func(groups, resources []string) []admissionregistrationv1.RuleWithOperations {
		return []admissionregistrationv1.RuleWithOperations{{
			Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
			Rule:       admissionregistrationv1.Rule{APIGroups: groups, APIVersions: []string{"*"}, Resources: resources},
		}}
	}
	validating := func(name string, rules []admissionregistrationv1.RuleWithOperations) *admissionregistrationv1.ValidatingWebhookConfiguration {
		return &admissionregistrationv1.ValidatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{
				Name:                    "validate.eip.example.io",
				ClientConfig:            admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: "openelb-system", Name: "openelb-controller", Path: ptr.To("/validate")}},
				Rules:                   rules,
				SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
				AdmissionReviewVersions: []string{"v1"},
				// Ignore, so that the other tests' writes are not held up
				// should this test fail before its cleanup; the event's
				// wording for Fail is checked on the mutating one.
				FailurePolicy: ptr.To(admissionregistrationv1.Ignore),
			}},
		}
	}
	openelb := validating("openelb-admission", rule([]string{"network.kubesphere.io"}, []string{"eips"}))
	own := validating(certs.DefaultValidatingWebhook, rule([]string{"network.kubesphere.io"}, []string{"eips", "bgppeers"}))
	other := validating("apps-policy", rule([]string{"apps"}, []string{"deployments"}))
	wildcard := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "mutate-everything"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "mutate.example.io",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: "x", Name: "y"}},
			Rules:                   rule([]string{"*"}, []string{"*"}),
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
			FailurePolicy:           ptr.To(admissionregistrationv1.Ignore),
			// Only this test's namespace, so that nothing else is slowed.
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"foreign-webhook-test": "yes"}},
		}},
	}
	objs := []client.Object{openelb, own, other, wildcard}
	for _, o := range objs {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), o) })
	}
	startController(t, Options{})

	waitEvent(t, "default", "openelb-admission", ReasonForeignWebhook,
		`ValidatingWebhookConfiguration "openelb-admission" is not Herald's but intercepts writes of network.kubesphere.io: validate.eip.example.io (eips). If it belongs to a removed OpenELB, delete it (kubectl delete validatingwebhookconfiguration openelb-admission)`)
	waitEvent(t, "default", "mutate-everything", ReasonForeignWebhook, "mutate.example.io (eips, bgpconfs, bgppeers)")

	// The Fail wording, on a spec change (a new generation is reported
	// again).
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(openelb), openelb); err != nil {
		t.Fatal(err)
	}
	openelb.Webhooks[0].FailurePolicy = ptr.To(admissionregistrationv1.Fail)
	openelb.Webhooks[0].NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"foreign-webhook-test": "yes"}}
	if err := env.Client.Update(ctx, openelb); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, "default", "openelb-admission", ReasonForeignWebhook, "failurePolicy Fail refuses every such write, Herald's own included")

	// By now every configuration was reconciled at least once (the
	// initial list queues them all before the update's event).
	var list corev1.EventList
	if err := env.Client.List(ctx, &list, client.InNamespace("default")); err != nil {
		t.Fatal(err)
	}
	for _, e := range list.Items {
		if e.Reason == ReasonForeignWebhook && (e.InvolvedObject.Name == own.Name || e.InvolvedObject.Name == other.Name) {
			t.Errorf("%s reported: %s", e.InvolvedObject.Name, e.Message)
		}
	}
	for _, o := range objs {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
			t.Errorf("%s: %v (Herald must never delete it)", o.GetName(), err)
		}
	}
}
