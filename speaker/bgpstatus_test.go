package speaker

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/speaker/bgp"
)

// deleteAndWait deletes obj, if it exists, and waits until it is gone. A
// finalizer still there after a while (its controller already stopped) is
// removed, so that one test's leftovers never hold up the next.
func deleteAndWait(t *testing.T, obj client.Object) {
	t.Helper()
	ctx := context.Background()
	if err := env.Client.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	gone := func() error {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("%s still there (error %v, finalizers %v)", obj.GetName(), err, obj.GetFinalizers())
	}
	if testenv.Poll(10*time.Second, gone) == nil {
		return
	}
	obj.SetFinalizers(nil)
	if err := env.Client.Update(ctx, obj); client.IgnoreNotFound(err) != nil {
		t.Fatalf("%s: remove finalizers: %v", obj.GetName(), err)
	}
	testenv.Eventually(t, 10*time.Second, gone)
}

// TestBGPStatusAfterRecreate: a BgpConf and a BgpPeer deleted and created
// again under the same names get this node's status again, although it is
// the same status as before (the peer's session never came up, so not even
// its counters change).
func TestBGPStatusAfterRecreate(t *testing.T) {
	ctx := context.Background()
	const nodeName = "status-node"
	// Only the BgpConf named default counts; start from none, and leave
	// none for the other tests.
	conf := func() *v1alpha2.BgpConf {
		return &v1alpha2.BgpConf{ObjectMeta: metav1.ObjectMeta{Name: v1alpha2.BgpConfName}, Spec: v1alpha2.BgpConfSpec{As: 64520}}
	}
	peer := func() *v1alpha2.BgpPeer {
		return &v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: "status-peer"}, Spec: v1alpha2.BgpPeerSpec{
			Conf: &v1alpha2.PeerConf{NeighborAddress: "10.98.0.1", PeerAs: 64512},
		}}
	}
	deleteAndWait(t, conf())
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName}}
	create(t, node)
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.98.0.11"}}
	if err := env.Client.Status().Update(ctx, node); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		deleteAndWait(t, conf())
		deleteAndWait(t, peer())
		deleteAndWait(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName}})
	})
	create(t, conf())
	create(t, peer())
	router := &fakeRouter{statuses: []bgp.PeerStatus{{
		Name: "status-peer", Address: netip.MustParseAddr("10.98.0.1"), PeerAS: 64512, LocalAS: 64520, State: bgp.StateActive,
	}}}
	startSpeaker(t, nodeName, router)

	statusShown := func() error {
		var c v1alpha2.BgpConf
		if err := env.Client.Get(ctx, client.ObjectKey{Name: v1alpha2.BgpConfName}, &c); err != nil {
			return err
		}
		if cs, ok := c.Status.NodesConfStatus[nodeName]; !ok || cs.As != 64520 || cs.RouterId != "10.98.0.11" {
			return fmt.Errorf("bgpconf nodesConfStatus = %+v", c.Status.NodesConfStatus)
		}
		var p v1alpha2.BgpPeer
		if err := env.Client.Get(ctx, client.ObjectKey{Name: "status-peer"}, &p); err != nil {
			return err
		}
		if ps, ok := p.Status.NodesPeerStatus[nodeName]; !ok || ps.PeerState.SessionState != "ACTIVE" {
			return fmt.Errorf("bgppeer nodesPeerStatus = %+v", p.Status.NodesPeerStatus)
		}
		return nil
	}
	testenv.Eventually(t, 10*time.Second, statusShown)

	deleteAndWait(t, conf())
	deleteAndWait(t, peer())
	create(t, conf())
	create(t, peer())
	testenv.Eventually(t, 10*time.Second, statusShown)
}
