package controllers

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// TestNotServedBGPNoSelectedNode: a bgp Eip whose nodeSelector matches no
// Node is not served (NoSelectedNode), and becomes served when a Node is
// labelled to match; the exclude label on that Node takes it away again.
// Node label changes wake the Eip reconciler by themselves.
func TestNotServedBGPNoSelectedNode(t *testing.T) {
	ctx := context.Background()
	startController(t, Options{})
	createBgpConf(t)
	createBgpPeer(t, "sel-router")
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "sel-node", Labels: map[string]string{"rack": "r9"}}}
	if err := env.Client.Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), node) })
	e := createEip(t, "bgp-selected", "192.0.2.236/30", func(e *v1alpha2.Eip) {
		e.Spec.NodeSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"herald.test/announce": "yes"}}
	})
	c := waitReady(t, e.Name, metav1.ConditionFalse, ReasonNoSelectedNode)
	t.Logf("condition: %s", c.Message)

	relabel := func(labels map[string]string) {
		t.Helper()
		var cur corev1.Node
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(node), &cur); err != nil {
			t.Fatal(err)
		}
		cur.Labels = labels
		if err := env.Client.Update(ctx, &cur); err != nil {
			t.Fatal(err)
		}
	}
	relabel(map[string]string{"rack": "r9", "herald.test/announce": "yes"})
	waitReady(t, e.Name, metav1.ConditionTrue, ReasonAccepted)
	relabel(map[string]string{"rack": "r9", "herald.test/announce": "yes", corev1.LabelNodeExcludeBalancers: ""})
	waitReady(t, e.Name, metav1.ConditionFalse, ReasonNoSelectedNode)
}
