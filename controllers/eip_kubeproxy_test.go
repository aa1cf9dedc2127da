package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
)

func layer2(e *v1alpha2.Eip) { e.Spec.Protocol, e.Spec.Interface = v1alpha2.ProtocolLayer2, "eth0" }

// setKubeProxyConfig creates or replaces kube-proxy's ConfigMap with this
// config.conf; the test's end deletes it, so that the next test starts on
// a cluster without one.
func setKubeProxyConfig(t *testing.T, conf string) {
	t.Helper()
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: KubeProxyNamespace, Name: KubeProxyConfigMap}}
	err := env.Client.Get(ctx, client.ObjectKeyFromObject(cm), cm)
	cm.Data = map[string]string{kubeProxyConfigKey: conf}
	switch {
	case apierrors.IsNotFound(err):
		err = env.Client.Create(ctx, cm)
		t.Cleanup(func() {
			if err := env.Client.Delete(ctx, cm); client.IgnoreNotFound(err) != nil {
				t.Errorf("delete kube-proxy's ConfigMap: %v", err)
			}
		})
	case err == nil:
		err = env.Client.Update(ctx, cm)
	}
	if err != nil {
		t.Fatalf("write kube-proxy's ConfigMap: %v", err)
	}
}

// waitKubeProxyCondition waits until the Eip's KubeProxyCompatible
// condition has this status and reason and its message contains text.
func waitKubeProxyCondition(t *testing.T, eip string, status metav1.ConditionStatus, reason, text string) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, func() error {
		e, err := getEip(eip)
		if err != nil {
			return err
		}
		c := meta.FindStatusCondition(e.Status.Conditions, v1alpha2.ConditionKubeProxyCompatible)
		if c == nil || c.Status != status || c.Reason != reason || !strings.Contains(c.Message, text) ||
			c.ObservedGeneration != e.Generation {
			return fmt.Errorf("eip %s: KubeProxyCompatible = %+v, want %s/%s saying %q at generation %d", eip, c, status, reason, text, e.Generation)
		}
		return nil
	})
}

// waitNoKubeProxyCondition waits until the Eip's status is written (Ready
// is set for its current generation) and checks it has no
// KubeProxyCompatible condition.
func waitNoKubeProxyCondition(t *testing.T, eip string) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, func() error {
		e, err := getEip(eip)
		if err != nil {
			return err
		}
		if r := meta.FindStatusCondition(e.Status.Conditions, v1alpha2.ConditionReady); r == nil || r.ObservedGeneration != e.Generation {
			return fmt.Errorf("eip %s: status not written for generation %d yet: %+v", eip, e.Generation, r)
		}
		if c := meta.FindStatusCondition(e.Status.Conditions, v1alpha2.ConditionKubeProxyCompatible); c != nil {
			return fmt.Errorf("eip %s (protocol %q) has %+v, want no KubeProxyCompatible condition", eip, e.Spec.Protocol, c)
		}
		return nil
	})
}

// eipEvents returns the notes of the events with this reason on an Eip,
// one per recorded occurrence (a repeated event is one object whose
// series counts the repeats). Events of cluster-scoped objects live in
// the default namespace.
func eipEvents(t *testing.T, eip, reason string) []string {
	t.Helper()
	var list corev1.EventList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(metav1.NamespaceDefault)); err != nil {
		t.Fatal(err)
	}
	var notes []string
	for _, e := range list.Items {
		if e.InvolvedObject.Kind != "Eip" || e.InvolvedObject.Name != eip || e.Reason != reason {
			continue
		}
		n := 1
		if e.Series != nil {
			n += int(e.Series.Count)
		}
		for range n {
			notes = append(notes, e.Type+": "+e.Message)
		}
	}
	return notes
}

// waitOneEvent waits for exactly one event of this reason on the Eip and
// checks that it is a Warning that contains text.
func waitOneEvent(t *testing.T, eip, reason, text string) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, func() error {
		notes := eipEvents(t, eip, reason)
		if len(notes) != 1 || !strings.HasPrefix(notes[0], corev1.EventTypeWarning+": ") || !strings.Contains(notes[0], text) {
			return fmt.Errorf("eip %s: %s events %q, want one Warning containing %q", eip, reason, notes, text)
		}
		return nil
	})
}

// TestKubeProxyNoConfig: on a cluster without kube-proxy's ConfigMap (not
// installed by kubeadm, or kube-proxy replaced) a layer2 Eip says that it
// cannot tell, without alarm; a bgp Eip gets no such condition.
func TestKubeProxyNoConfig(t *testing.T) {
	startController(t, Options{})
	createEip(t, "kp-none-l2", "198.51.100.0/29", layer2)
	createEip(t, "kp-none-bgp", "198.51.100.8/29")
	waitKubeProxyCondition(t, "kp-none-l2", metav1.ConditionUnknown, ReasonNoKubeProxyConfig, "no ConfigMap kube-system/kube-proxy")
	waitNoKubeProxyCondition(t, "kp-none-bgp")
	if notes := eipEvents(t, "kp-none-l2", ReasonStrictARPDisabled); len(notes) != 0 {
		t.Errorf("events without a kube-proxy configuration: %q", notes)
	}
}

// TestKubeProxyStrictARP: IPVS without strictARP turns the condition of
// layer2 and vip IPv4 Eips False with the fix, and records one Warning
// event each,
// however often they are reconciled; fixing the ConfigMap clears it
// promptly; bgp Eips, and an Eip that stops being layer2, carry no such
// condition.
func TestKubeProxyStrictARP(t *testing.T) {
	setKubeProxyConfig(t, kubeadmConfig("ipvs", "false"))
	startController(t, Options{})
	createEip(t, "kp-arp-l2", "198.51.100.16/29", layer2)
	createEip(t, "kp-arp-l2-v6", "2001:db8:77::/124", layer2)
	createEip(t, "kp-arp-bgp", "198.51.100.24/29")
	createEip(t, "kp-arp-vip", "198.51.100.40/29", vip)

	waitKubeProxyCondition(t, "kp-arp-l2", metav1.ConditionFalse, ReasonStrictARPDisabled, "Fix: "+StrictARPFix)
	waitOneEvent(t, "kp-arp-l2", ReasonStrictARPDisabled, StrictARPFix)
	waitKubeProxyCondition(t, "kp-arp-l2-v6", metav1.ConditionTrue, ReasonIPv6Pool, "IPv4 pools only")
	waitNoKubeProxyCondition(t, "kp-arp-bgp")
	waitKubeProxyCondition(t, "kp-arp-vip", metav1.ConditionFalse, ReasonStrictARPDisabled, "not only the one holding it")
	waitOneEvent(t, "kp-arp-vip", ReasonStrictARPDisabled, StrictARPFix)

	// Another reconcile (a new generation) keeps the condition, and
	// records no second event.
	ctx := context.Background()
	e, err := getEip("kp-arp-l2")
	if err != nil {
		t.Fatal(err)
	}
	e.Spec.Disable = true
	if err := env.Client.Update(ctx, e); err != nil {
		t.Fatal(err)
	}
	waitKubeProxyCondition(t, "kp-arp-l2", metav1.ConditionFalse, ReasonStrictARPDisabled, StrictARPFix)

	setKubeProxyConfig(t, kubeadmConfig("ipvs", "true"))
	waitKubeProxyCondition(t, "kp-arp-l2", metav1.ConditionTrue, ReasonStrictARPEnabled, "with strictARP")
	waitKubeProxyCondition(t, "kp-arp-l2-v6", metav1.ConditionTrue, ReasonStrictARPEnabled, "with strictARP")
	waitKubeProxyCondition(t, "kp-arp-vip", metav1.ConditionTrue, ReasonStrictARPEnabled, "with strictARP")
	if notes := eipEvents(t, "kp-arp-l2", ReasonStrictARPDisabled); len(notes) != 1 {
		t.Errorf("%s events after several reconciles: %q, want exactly one", ReasonStrictARPDisabled, notes)
	}
	if notes := eipEvents(t, "kp-arp-l2-v6", ReasonStrictARPDisabled); len(notes) != 0 {
		t.Errorf("IPv6 pool got %s events: %q", ReasonStrictARPDisabled, notes)
	}

	// Layer2 no more: the condition goes.
	if e, err = getEip("kp-arp-l2"); err != nil {
		t.Fatal(err)
	}
	e.Spec.Protocol, e.Spec.Interface = v1alpha2.ProtocolBGP, ""
	if err := env.Client.Update(ctx, e); err != nil {
		t.Fatal(err)
	}
	waitNoKubeProxyCondition(t, "kp-arp-l2")
}

// TestKubeProxyNotIPVS: iptables mode, named or by default, and nftables
// mode leave ARP to Herald.
func TestKubeProxyNotIPVS(t *testing.T) {
	setKubeProxyConfig(t, kubeadmConfig("iptables", "false"))
	startController(t, Options{})
	createEip(t, "kp-iptables", "198.51.100.32/29", layer2)
	waitKubeProxyCondition(t, "kp-iptables", metav1.ConditionTrue, ReasonNotIPVS, "iptables mode")
	setKubeProxyConfig(t, kubeadmConfig(`""`, "false"))
	waitKubeProxyCondition(t, "kp-iptables", metav1.ConditionTrue, ReasonNotIPVS, "iptables mode")
	setKubeProxyConfig(t, kubeadmConfig("nftables", "false"))
	waitKubeProxyCondition(t, "kp-iptables", metav1.ConditionTrue, ReasonNotIPVS, "nftables mode")
}

// TestKubeProxyUnreadable: a config.conf that does not parse is reported
// as such, and the controller keeps working; deleting the ConfigMap
// brings the Eip to "no configuration".
func TestKubeProxyUnreadable(t *testing.T) {
	setKubeProxyConfig(t, "mode: [ipvs\n\tstrictARP")
	startController(t, Options{})
	createEip(t, "kp-garbage", "198.51.100.40/29", layer2, asDefault)
	waitKubeProxyCondition(t, "kp-garbage", metav1.ConditionUnknown, ReasonKubeProxyConfigUnreadable,
		"cannot read kube-proxy's configuration in ConfigMap kube-system/kube-proxy: key config.conf: ")
	ns := namespace(t, nil)
	createService(t, ns, "still-served")
	waitIngress(t, ns, "still-served", "198.51.100.40")

	if err := env.Client.Delete(context.Background(), &corev1.ConfigMap{ObjectMeta: objMeta(KubeProxyNamespace, KubeProxyConfigMap)}); err != nil {
		t.Fatal(err)
	}
	waitKubeProxyCondition(t, "kp-garbage", metav1.ConditionUnknown, ReasonNoKubeProxyConfig, "cannot tell")
}
