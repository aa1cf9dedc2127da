package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/test/e2e/rig"
	"github.com/herald-lb/herald/webhook/webhooktest"
)

// WebhookPort is where herald-controller's webhook server listens on
// node1's loopback when Options.Webhooks is set.
const WebhookPort = 9443

// webhookReadyTimeout bounds the wait for the first admission answer: the
// controller creates its CA, writes the caBundles and starts serving.
const webhookReadyTimeout = time.Minute

// controllerWebhookArgs are herald-controller's flags with its webhooks
// on: the server binds node1's loopback, where the exposed relay dials it,
// and its certificate names 127.0.0.1, the address the configurations'
// URLs give the API server.
func (c *Cluster) controllerWebhookArgs() []string {
	return []string{
		"--enable-webhooks=true",
		"--webhook-host=127.0.0.1",
		"--webhook-port=" + strconv.Itoa(WebhookPort),
		"--webhook-cert-ips=127.0.0.1",
		"--webhook-cert-dir=" + filepath.Join(c.StateDir, "webhook-certs"),
	}
}

// installWebhooks makes the API server on the host call herald-controller's
// webhooks in node1: it exposes the webhook port on the host's loopback and
// creates the release's webhook configurations (config/webhook, with the
// names the release gives them, so the controller's caBundle rotation finds
// them by its defaults) pointing at that address by URL instead of at the
// webhook Service, which has no endpoints in a cluster without pods.
func (c *Cluster) installWebhooks(ctx context.Context) error {
	host, err := c.ExposeToHost(ctx, c.Nodes[0].NS, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), WebhookPort))
	if err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	base := "https://" + host.String()
	objs, err := webhooktest.Configurations(base)
	if err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	for _, obj := range objs {
		if err := c.Client.Create(ctx, obj); err != nil {
			return fmt.Errorf("webhooks: create %T %s: %w", obj, obj.GetName(), err)
		}
	}
	c.opts.Logf("webhook configurations point at %s (node1's 127.0.0.1:%d)", base, WebhookPort)
	return nil
}

// WaitWebhooks waits until the API server gets the webhooks' answer: a
// dry-run of an Eip with a malformed address is refused by the validating
// webhook (not by a failed call, which is what the API server reports
// until the controller serves and the caBundle is in place).
func (c *Cluster) WaitWebhooks(ctx context.Context) error {
	probe := &v1alpha2.Eip{
		ObjectMeta: metav1.ObjectMeta{Name: "webhook-probe"},
		Spec:       v1alpha2.EipSpec{Address: "not-an-address"},
	}
	return rig.Eventually(ctx, webhookReadyTimeout, 100*time.Millisecond, func(ctx context.Context) error {
		err := c.Client.Create(ctx, probe.DeepCopy(), client.DryRunAll)
		if err == nil {
			return fmt.Errorf("a malformed Eip was admitted: the webhooks are not called")
		}
		if !apierrors.IsInvalid(err) {
			return fmt.Errorf("webhooks not answering yet: %w", err)
		}
		return nil
	})
}
