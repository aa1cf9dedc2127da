package controllers

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/keepalived"
)

func vip(e *v1alpha2.Eip) { e.Spec.Protocol, e.Spec.Interface = v1alpha2.ProtocolVIP, "eth0" }

func fromEip(name string) svcOpt { return annotated(v1alpha2.AnnotationEip, name) }

func ipv6Only(s *corev1.Service) {
	s.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicySingleStack)
	s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
}

// waitVRIDs waits until an Eip's status.vrids is exactly want.
func waitVRIDs(t *testing.T, name string, want map[string]int32) {
	t.Helper()
	testenv.Eventually(t, 15*time.Second, func() error {
		e, err := getEip(name)
		if err != nil {
			return err
		}
		if !maps.Equal(e.Status.VRIDs, want) {
			return fmt.Errorf("eip %s status.vrids = %v, want %v", name, e.Status.VRIDs, want)
		}
		return nil
	})
}

// waitVRIDsAssigned waits until an Eip's VRIDsAssigned condition has this
// status and reason, and returns it.
func waitVRIDsAssigned(t *testing.T, name string, status metav1.ConditionStatus, reason string) metav1.Condition {
	t.Helper()
	return waitCondition(t, name, v1alpha2.ConditionVRIDsAssigned, status, reason)
}

func deleteService(t *testing.T, ns, name string) {
	t.Helper()
	svc := &corev1.Service{ObjectMeta: objMeta(ns, name)}
	if err := env.Client.Delete(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
}

// TestVRIDsAssignedAndFreed: every address of a vip Eip in use gets its
// own VRID, lowest first; a released address frees its VRID; a bgp Eip
// gets neither VRIDs nor the condition.
func TestVRIDsAssignedAndFreed(t *testing.T) {
	startController(t, Options{})
	withBgp(t)
	createEip(t, "vrid-basic", "203.0.113.0/29", vip)
	createEip(t, "vrid-bgp", "203.0.113.8/29")
	ns := namespace(t, nil)
	for i, name := range []string{"a", "b", "c"} {
		createService(t, ns, name, fromEip("vrid-basic"))
		waitIngress(t, ns, name, fmt.Sprintf("203.0.113.%d", i))
	}
	createService(t, ns, "plain", fromEip("vrid-bgp"))
	waitIngress(t, ns, "plain", "203.0.113.8")
	waitVRIDs(t, "vrid-basic", map[string]int32{"203.0.113.0": 1, "203.0.113.1": 2, "203.0.113.2": 3})
	c := waitVRIDsAssigned(t, "vrid-basic", metav1.ConditionTrue, ReasonVRIDsAssigned)
	if !contains(c.Message, "3 address") {
		t.Errorf("message %q does not say how many addresses have a VRID", c.Message)
	}
	// The Ready verdict is the speakers' (none run here).
	waitReady(t, "vrid-basic", metav1.ConditionFalse, ReasonNoVIPSpeakers)

	deleteService(t, ns, "b")
	waitVRIDs(t, "vrid-basic", map[string]int32{"203.0.113.0": 1, "203.0.113.2": 3})
	createService(t, ns, "d", fromEip("vrid-basic"))
	waitIngress(t, ns, "d", "203.0.113.1")
	waitVRIDs(t, "vrid-basic", map[string]int32{"203.0.113.0": 1, "203.0.113.1": 2, "203.0.113.2": 3})

	e, err := getEip("vrid-bgp")
	if err != nil {
		t.Fatal(err)
	}
	if e.Status.VRIDs != nil || meta.FindStatusCondition(e.Status.Conditions, v1alpha2.ConditionVRIDsAssigned) != nil {
		t.Errorf("bgp Eip has VRIDs %v and conditions %v; want none", e.Status.VRIDs, e.Status.Conditions)
	}
}

// TestVRIDsStableAcrossRestart: a new controller keeps the VRIDs the old
// one persisted, although a fresh assignment would number them otherwise,
// and gives the next address a VRID nobody holds.
func TestVRIDsStableAcrossRestart(t *testing.T) {
	stop := startController(t, Options{})
	createEip(t, "vrid-restart", "203.0.113.16/30", vip)
	createEip(t, "vrid-restart-2", "203.0.113.20/30", vip)
	ns := namespace(t, nil)
	for i, name := range []string{"a", "b", "c"} {
		createService(t, ns, name, fromEip("vrid-restart"))
		waitIngress(t, ns, name, fmt.Sprintf("203.0.113.%d", 16+i))
	}
	waitVRIDs(t, "vrid-restart", map[string]int32{"203.0.113.16": 1, "203.0.113.17": 2, "203.0.113.18": 3})
	deleteService(t, ns, "a")
	want := map[string]int32{"203.0.113.17": 2, "203.0.113.18": 3}
	waitVRIDs(t, "vrid-restart", want)

	stop()
	startController(t, Options{})
	// Numbered afresh, 203.0.113.17 would get 1 and this one 3.
	createService(t, ns, "d", fromEip("vrid-restart-2"))
	waitIngress(t, ns, "d", "203.0.113.20")
	waitVRIDs(t, "vrid-restart-2", map[string]int32{"203.0.113.20": 1})
	waitVRIDs(t, "vrid-restart", want)

	// The new controller's cleanup runs first: free the Eips while it runs.
	emptyNamespace(t, ns)
	deleteEip(t, "vrid-restart")
	deleteEip(t, "vrid-restart-2")
}

// TestVRIDsRangeAndExclusions: only VRIDs of the operator's range minus
// the exclusions are handed out.
func TestVRIDsRangeAndExclusions(t *testing.T) {
	pool, err := keepalived.ParseVRIDPool("10-20", "10-12,14")
	if err != nil {
		t.Fatal(err)
	}
	startController(t, Options{VRIDPool: pool})
	createEip(t, "vrid-excl", "203.0.113.24/29", vip)
	ns := namespace(t, nil)
	for i, name := range []string{"a", "b", "c"} {
		createService(t, ns, name, fromEip("vrid-excl"))
		waitIngress(t, ns, name, fmt.Sprintf("203.0.113.%d", 24+i))
	}
	waitVRIDs(t, "vrid-excl", map[string]int32{"203.0.113.24": 13, "203.0.113.25": 15, "203.0.113.26": 16})
}

// TestVRIDsExhausted: with 2 VRIDs and 3 addresses, the third has none;
// the Eip says so and how to fix it, and its Service gets a Warning, once:
// a restarted controller does not repeat it. Freed VRIDs go to the
// addresses waiting, lowest first.
func TestVRIDsExhausted(t *testing.T) {
	pool, err := keepalived.ParseVRIDPool("1-2", "")
	if err != nil {
		t.Fatal(err)
	}
	stop := startController(t, Options{VRIDPool: pool})
	createEip(t, "vrid-full", "203.0.113.32/29", vip)
	ns := namespace(t, nil)
	for i, name := range []string{"a", "b", "c"} {
		createService(t, ns, name, fromEip("vrid-full"))
		waitIngress(t, ns, name, fmt.Sprintf("203.0.113.%d", 32+i))
	}
	waitVRIDs(t, "vrid-full", map[string]int32{"203.0.113.32": 1, "203.0.113.33": 2})
	c := waitVRIDsAssigned(t, "vrid-full", metav1.ConditionFalse, ReasonVRIDRangeExhausted)
	for _, want := range []string{"1 address", "203.0.113.34", "--vrrp-vrid-range", "--vrrp-vrid-exclude"} {
		if !contains(c.Message, want) {
			t.Errorf("condition message %q does not contain %q", c.Message, want)
		}
	}
	waitEvent(t, ns, "c", ReasonVRIDRangeExhausted, "203.0.113.34")
	waitEvent(t, "default", "vrid-full", ReasonVRIDRangeExhausted, "203.0.113.34")
	if n := countEvents(t, ns, "a", ReasonVRIDRangeExhausted); n != 0 {
		t.Errorf("service a, which has a VRID, got %d %s events", n, ReasonVRIDRangeExhausted)
	}

	stop()
	startController(t, Options{VRIDPool: pool})
	createService(t, ns, "d", fromEip("vrid-full"))
	waitIngress(t, ns, "d", "203.0.113.35")
	waitEvent(t, ns, "d", ReasonVRIDRangeExhausted, "203.0.113.35")
	c = waitVRIDsAssigned(t, "vrid-full", metav1.ConditionFalse, ReasonVRIDRangeExhausted)
	if !contains(c.Message, "2 address") {
		t.Errorf("condition message %q does not count 2 addresses", c.Message)
	}
	if n := countEvents(t, ns, "c", ReasonVRIDRangeExhausted); n != 1 {
		t.Errorf("service c got %d %s events, want 1: the restart repeated it", n, ReasonVRIDRangeExhausted)
	}

	deleteService(t, ns, "a")
	waitVRIDs(t, "vrid-full", map[string]int32{"203.0.113.33": 2, "203.0.113.34": 1})
	deleteService(t, ns, "b")
	waitVRIDs(t, "vrid-full", map[string]int32{"203.0.113.34": 1, "203.0.113.35": 2})
	waitVRIDsAssigned(t, "vrid-full", metav1.ConditionTrue, ReasonVRIDsAssigned)

	// The new controller's cleanup runs first: free the Eip while it runs.
	emptyNamespace(t, ns)
	deleteEip(t, "vrid-full")
}

// TestVRIDsFreedInAnotherEip: a VRID freed in one vip Eip goes to an
// address of another that waited for one, and that Eip's status says so
// although nothing changed in its own allocations.
func TestVRIDsFreedInAnotherEip(t *testing.T) {
	pool, err := keepalived.ParseVRIDPool("7", "")
	if err != nil {
		t.Fatal(err)
	}
	startController(t, Options{VRIDPool: pool})
	createEip(t, "vrid-first", "203.0.113.48/30", vip)
	createEip(t, "vrid-waits", "203.0.113.52/30", vip)
	ns := namespace(t, nil)
	createService(t, ns, "a", fromEip("vrid-first"))
	waitIngress(t, ns, "a", "203.0.113.48")
	waitVRIDs(t, "vrid-first", map[string]int32{"203.0.113.48": 7})
	createService(t, ns, "b", fromEip("vrid-waits"))
	waitIngress(t, ns, "b", "203.0.113.52")
	waitVRIDsAssigned(t, "vrid-waits", metav1.ConditionFalse, ReasonVRIDRangeExhausted)
	waitEvent(t, ns, "b", ReasonVRIDRangeExhausted, "203.0.113.52")
	// Its own reconciles must be over, or one would pick the freed VRID
	// up by chance.
	settle(t, "vrid-waits")

	deleteService(t, ns, "a")
	waitVRIDs(t, "vrid-waits", map[string]int32{"203.0.113.52": 7})
	waitVRIDsAssigned(t, "vrid-waits", metav1.ConditionTrue, ReasonVRIDsAssigned)
}

// TestVRIDsPerFamilyAcrossEips: VRIDs are unique across vip Eips of one
// family, and IPv4 and IPv6 number theirs separately.
func TestVRIDsPerFamilyAcrossEips(t *testing.T) {
	startController(t, Options{})
	createEip(t, "vrid-v4a", "203.0.113.40/30", vip)
	createEip(t, "vrid-v4b", "203.0.113.44/30", vip)
	createEip(t, "vrid-v6", "2001:db8:f1::/126", vip)
	ns := namespace(t, nil)
	createService(t, ns, "a", fromEip("vrid-v4a"))
	waitIngress(t, ns, "a", "203.0.113.40")
	waitVRIDs(t, "vrid-v4a", map[string]int32{"203.0.113.40": 1})
	createService(t, ns, "b", fromEip("vrid-v4b"))
	waitIngress(t, ns, "b", "203.0.113.44")
	createService(t, ns, "six", fromEip("vrid-v6"), ipv6Only)
	waitIngress(t, ns, "six", "2001:db8:f1::")
	waitVRIDs(t, "vrid-v4b", map[string]int32{"203.0.113.44": 2})
	waitVRIDs(t, "vrid-v6", map[string]int32{"2001:db8:f1::": 1})
}

// settle waits until an Eip has not changed for ten status intervals
// (startController's 50 ms), so that every reconcile its own writes caused
// has run.
func settle(t *testing.T, name string) {
	t.Helper()
	last, since := "", time.Now()
	testenv.Eventually(t, 10*time.Second, func() error {
		e, err := getEip(name)
		if err != nil {
			return err
		}
		if e.ResourceVersion != last {
			last, since = e.ResourceVersion, time.Now()
		}
		if time.Since(since) < 500*time.Millisecond {
			return fmt.Errorf("eip %s changed within 500ms", name)
		}
		return nil
	})
}

func countEvents(t *testing.T, ns, name, reason string) int {
	t.Helper()
	var list corev1.EventList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range list.Items {
		if e.InvolvedObject.Name == name && e.Reason == reason {
			n++
		}
	}
	return n
}

// TestVRIDsNotThrottled: a new address of a vip Eip gets its VRID into the
// status at once, however long the status interval: no node serves the
// address before. The usage of a bgp Eip waits for the interval.
func TestVRIDsNotThrottled(t *testing.T) {
	startController(t, Options{EipStatusInterval: time.Hour})
	withBgp(t)
	createEip(t, "vrid-urgent", "203.0.113.64/29", vip)
	createEip(t, "vrid-patient", "203.0.113.72/29")
	ns := namespace(t, nil)
	// The first write of each Eip comes with its creation.
	waitVRIDsAssigned(t, "vrid-urgent", metav1.ConditionTrue, ReasonVRIDsAssigned)
	for i, name := range []string{"a", "b"} {
		createService(t, ns, name, fromEip("vrid-urgent"))
		waitIngress(t, ns, name, fmt.Sprintf("203.0.113.%d", 64+i))
	}
	waitVRIDs(t, "vrid-urgent", map[string]int32{"203.0.113.64": 1, "203.0.113.65": 2})

	createService(t, ns, "plain", fromEip("vrid-patient"))
	waitIngress(t, ns, "plain", "203.0.113.72")
	if e, err := getEip("vrid-patient"); err != nil || e.Status.Usage != 0 {
		t.Errorf("bgp Eip usage %d (err %v) written within the status interval, want it to wait", e.Status.Usage, err)
	}
}
