package controllers

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
	speakerlayer2 "github.com/herald-lb/herald/speaker/layer2"
)

// TestSpeakerLeaseProtocol: the controller reads the speakers' Leases by
// the names the speaker writes them with.
func TestSpeakerLeaseProtocol(t *testing.T) {
	for _, c := range []struct{ controller, speaker string }{
		{speakerLeasePrefix, speakerlayer2.LeaseNamePrefix},
		{speakerLeaseLabel, speakerlayer2.LeaseLabel},
		{speakerUnavailableAnnotation, speakerlayer2.UnavailableAnnotation},
		{speakerVIPRefusedAnnotation, speakerlayer2.VIPConfigRefusedAnnotation},
	} {
		if c.controller != c.speaker {
			t.Errorf("controller reads %q, speaker writes %q", c.controller, c.speaker)
		}
	}
}

// waitReady waits until an Eip's Ready condition has this status and
// reason, and returns it.
func waitReady(t *testing.T, name string, status metav1.ConditionStatus, reason string) metav1.Condition {
	t.Helper()
	return waitCondition(t, name, v1alpha2.ConditionReady, status, reason)
}

// waitCondition waits until an Eip's condition of this type has this
// status and reason, and returns it.
func waitCondition(t *testing.T, name, condType string, status metav1.ConditionStatus, reason string) metav1.Condition {
	t.Helper()
	var got metav1.Condition
	testenv.Eventually(t, 15*time.Second, func() error {
		e, err := getEip(name)
		if err != nil {
			return err
		}
		c := meta.FindStatusCondition(e.Status.Conditions, condType)
		if c == nil || c.Status != status || c.Reason != reason {
			return fmt.Errorf("eip %s %s = %+v, want %s/%s", name, condType, c, status, reason)
		}
		got = *c
		return nil
	})
	return got
}

// createBgpConf creates the default BgpConf, deleted when the test ends.
func createBgpConf(t *testing.T) {
	t.Helper()
	c := &v1alpha2.BgpConf{ObjectMeta: metav1.ObjectMeta{Name: v1alpha2.BgpConfName}, Spec: v1alpha2.BgpConfSpec{As: 64512}}
	if err := env.Client.Create(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), c) })
}

func createBgpPeer(t *testing.T, name string) {
	t.Helper()
	p := &v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha2.BgpPeerSpec{
		Conf: &v1alpha2.PeerConf{NeighborAddress: "192.0.2.254", PeerAs: 64513},
	}}
	if err := env.Client.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), p) })
}

// withBgp gives bgp Eips what they need to be served.
func withBgp(t *testing.T) {
	createBgpConf(t)
	createBgpPeer(t, "router")
}

// TestNotServedVIP: a vip Eip is judged from the speakers' Leases like a
// layer2 one, with its own reasons and a fix that names the keepalived
// DaemonSet too.
func TestNotServedVIP(t *testing.T) {
	speakers := namespace(t, nil)
	startController(t, Options{SpeakerNamespace: speakers})
	e := createEip(t, "vip-pool", "192.0.2.192/30", asDefault, func(e *v1alpha2.Eip) {
		e.Spec.Protocol, e.Spec.Interface = v1alpha2.ProtocolVIP, "eth7"
	})
	ns := namespace(t, nil)
	createService(t, ns, "web")
	waitIngress(t, ns, "web", "192.0.2.192")
	c := waitReady(t, e.Name, metav1.ConditionFalse, ReasonNoVIPSpeakers)
	if !contains(c.Message, "no herald-speaker runs vip mode") || !contains(c.Message, "herald-keepalived") || !contains(c.Message, "Fix:") {
		t.Errorf("message %q does not say what is wrong and how to fix it", c.Message)
	}
	waitEvent(t, ns, "web", ReasonNoVIPSpeakers, "no node runs VRRP for")

	a := startFakeSpeaker(t, speakers, "node-a", e.Name)
	testenv.Eventually(t, 15*time.Second, func() error {
		c := waitReady(t, e.Name, metav1.ConditionFalse, ReasonInterfaceUnavailable)
		if !contains(c.Message, "vip pool") || !contains(c.Message, "interface eth7") {
			return fmt.Errorf("message %q does not name the mode and the interface", c.Message)
		}
		return nil
	})
	a.setUnavailable("")
	waitReady(t, e.Name, metav1.ConditionTrue, ReasonAccepted)
	a.stop()
	waitReady(t, e.Name, metav1.ConditionFalse, ReasonNoLiveVIPSpeaker)
}

func TestNotServedBGP(t *testing.T) {
	startController(t, Options{})
	e := createEip(t, "bgp-pool", "192.0.2.196/30", asDefault)
	ns := namespace(t, nil)
	createService(t, ns, "web")
	waitIngress(t, ns, "web", "192.0.2.196")
	waitReady(t, e.Name, metav1.ConditionFalse, ReasonNoBgpConf)
	waitEvent(t, ns, "web", ReasonNoBgpConf, `no BgpConf named "default"`)

	createBgpConf(t)
	waitReady(t, e.Name, metav1.ConditionFalse, ReasonNoBgpPeer)
	waitEvent(t, ns, "web", ReasonNoBgpPeer, "no BgpPeer")
	// A Service allocated while the pool is not served is told at once.
	createService(t, ns, "late")
	waitEvent(t, ns, "late", ReasonNoBgpPeer, "no BgpPeer")

	createBgpPeer(t, "router")
	waitReady(t, e.Name, metav1.ConditionTrue, ReasonAccepted)
}

// fakeSpeaker keeps a speaker's Lease as speaker/layer2 does: renewed
// every 300 ms, carrying the Eips it cannot serve, until stop.
type fakeSpeaker struct {
	ns, node string
	mu       sync.Mutex
	unavail  string
	refused  string // speakerVIPRefusedAnnotation
	stop     func()
}

func startFakeSpeaker(t *testing.T, ns, node, unavailable string) *fakeSpeaker {
	t.Helper()
	s := &fakeSpeaker{ns: ns, node: node, unavail: unavailable}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{
		Namespace: ns, Name: speakerLeasePrefix + node, Labels: map[string]string{speakerLeaseLabel: "true"},
	}}
	s.dress(lease)
	if err := env.Client.Create(ctx, lease); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(done)
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			s.dress(lease)
			if err := env.Client.Update(ctx, lease); err != nil && ctx.Err() == nil {
				t.Errorf("renew lease of %s: %v", node, err)
				return
			}
		}
	}()
	s.stop = sync.OnceFunc(func() { cancel(); <-done })
	t.Cleanup(s.stop)
	return s
}

func (s *fakeSpeaker) dress(l *coordinationv1.Lease) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l.Spec.HolderIdentity = ptr.To(s.node)
	l.Spec.LeaseDurationSeconds = ptr.To[int32](1)
	l.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
	l.Annotations = map[string]string{}
	if s.unavail != "" {
		l.Annotations[speakerUnavailableAnnotation] = s.unavail
	}
	if s.refused != "" {
		l.Annotations[speakerVIPRefusedAnnotation] = s.refused
	}
}

func (s *fakeSpeaker) setVIPRefused(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refused = v
}

func (s *fakeSpeaker) setUnavailable(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unavail = v
}

func TestNotServedLayer2(t *testing.T) {
	speakers := namespace(t, nil)
	startController(t, Options{SpeakerNamespace: speakers})
	e := createEip(t, "l2-pool", "192.0.2.204/30", asDefault, func(e *v1alpha2.Eip) {
		e.Spec.Protocol, e.Spec.Interface = v1alpha2.ProtocolLayer2, "eth9"
	})
	ns := namespace(t, nil)
	createService(t, ns, "web")
	waitIngress(t, ns, "web", "192.0.2.204")
	c := waitReady(t, e.Name, metav1.ConditionFalse, ReasonNoLayer2Speakers)
	if !contains(c.Message, "no herald-speaker runs layer2 mode") || !contains(c.Message, "Fix:") {
		t.Errorf("message %q does not say what is wrong and how to fix it", c.Message)
	}
	waitEvent(t, ns, "web", ReasonNoLayer2Speakers, "no herald-speaker runs layer2 mode")

	// Speakers run, but none has the interface.
	a := startFakeSpeaker(t, speakers, "node-a", e.Name)
	b := startFakeSpeaker(t, speakers, "node-b", "other,"+e.Name)
	testenv.Eventually(t, 15*time.Second, func() error {
		c := waitReady(t, e.Name, metav1.ConditionFalse, ReasonInterfaceUnavailable)
		if !contains(c.Message, "node(s) node-a, node-b") || !contains(c.Message, "interface eth9") {
			return fmt.Errorf("message %q does not name both nodes and the interface", c.Message)
		}
		return nil
	})
	waitEvent(t, ns, "web", ReasonInterfaceUnavailable, "interface eth9 is missing")

	// One node gets it: served.
	b.setUnavailable("other")
	waitReady(t, e.Name, metav1.ConditionTrue, ReasonAccepted)

	// Its speaker stops renewing (killed): nothing is live that serves
	// the pool once its Lease expires by the controller's clock.
	b.stop()
	a.stop()
	waitReady(t, e.Name, metav1.ConditionFalse, ReasonNoLiveLayer2Speaker)
}

// patchEip changes an Eip's spec.
func patchEip(t *testing.T, name string, mutate func(*v1alpha2.Eip)) {
	t.Helper()
	e, err := getEip(name)
	if err != nil {
		t.Fatal(err)
	}
	orig := e.DeepCopy()
	mutate(e)
	if err := env.Client.Patch(context.Background(), e, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
}
