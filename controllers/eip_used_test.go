package controllers

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eipused"
	"github.com/herald-lb/herald/internal/testenv"
)

// TestUsedFormChoice: which form each mode writes, and auto's limit with
// its tenth of hysteresis.
func TestUsedFormChoice(t *testing.T) {
	for _, tc := range []struct {
		form UsedForm
		size int
		now  bool
		want bool
	}{
		{UsedForm{Mode: UsedFull}, 10 << 20, true, false},
		{UsedForm{Mode: UsedCompact}, 1, false, true},
		{UsedForm{}, DefaultUsedMaxBytes, false, false},
		{UsedForm{}, DefaultUsedMaxBytes + 1, false, true},
		{UsedForm{Mode: UsedAuto}, DefaultUsedMaxBytes - DefaultUsedMaxBytes/10 + 1, true, true},
		{UsedForm{Mode: UsedAuto}, DefaultUsedMaxBytes - DefaultUsedMaxBytes/10, true, false},
		{UsedForm{Mode: UsedAuto, MaxBytes: 100}, 100, false, false},
		{UsedForm{Mode: UsedAuto, MaxBytes: 100}, 101, false, true},
		{UsedForm{Mode: UsedAuto, MaxBytes: 100}, 91, true, true},
		{UsedForm{Mode: UsedAuto, MaxBytes: 100}, 90, true, false},
	} {
		if got := tc.form.compact(tc.size, tc.now); got != tc.want {
			t.Errorf("%+v.compact(%d, now %v) = %v, want %v", tc.form, tc.size, tc.now, got, tc.want)
		}
	}
	// One entry: "192.0.2.1":"ns/a", and "f:192.0.2.1":{}, in managedFields.
	if got, want := usedBytes(map[string]string{"192.0.2.1": "ns/a"}), len(`"192.0.2.1":"ns/a",`)+len(`"f:192.0.2.1":{},`); got != want {
		t.Errorf("usedBytes = %d, want %d", got, want)
	}
	for _, s := range []string{"", "auto", "full", "compact"} {
		if _, err := ParseUsedMode(s); err != nil {
			t.Errorf("ParseUsedMode(%q): %v", s, err)
		}
	}
	if _, err := ParseUsedMode("Compact"); err == nil {
		t.Error("ParseUsedMode(Compact) accepted")
	}
}

// TestFillUsed: the map names the Services; the compact form leaves in
// the map only what it cannot express; an Eip that does not parse gets
// the map.
func TestFillUsed(t *testing.T) {
	used := map[netip.Addr][]string{
		netip.MustParseAddr("2001:db8::1"):     {"a/x"},
		netip.MustParseAddr("2001:db8::2"):     {"a/y", "b/y"},
		netip.MustParseAddr("2001:db8:0:1::9"): {"a/far"},
	}
	base := netip.MustParseAddr("2001:db8::")
	var full v1alpha2.EipStatus
	UsedForm{Mode: UsedFull}.fill(&full, &v1alpha2.EipStatus{}, used, base)
	if want := map[string]string{"2001:db8::1": "a/x", "2001:db8::2": "a/y;b/y", "2001:db8:0:1::9": "a/far"}; !mapsEqual(full.Used, want) || full.UsedCompact != nil {
		t.Errorf("full: used %v, usedCompact %v; want %v alone", full.Used, full.UsedCompact, want)
	}
	var compact v1alpha2.EipStatus
	UsedForm{Mode: UsedCompact}.fill(&compact, &v1alpha2.EipStatus{}, used, base)
	if want := map[string]string{"2001:db8:0:1::9": "a/far"}; !mapsEqual(compact.Used, want) {
		t.Errorf("compact: used %v, want only %v", compact.Used, want)
	}
	spans, err := eipused.Decode(compact.UsedCompact)
	if err != nil || len(spans) != 1 || spans[0].First.String() != "2001:db8::1" || spans[0].Last.String() != "2001:db8::2" || compact.UsedCompact.Count != 2 {
		t.Errorf("compact: usedCompact %+v decodes to %v, %v", compact.UsedCompact, spans, err)
	}
	var unparsed v1alpha2.EipStatus
	UsedForm{Mode: UsedCompact}.fill(&unparsed, &v1alpha2.EipStatus{}, used, netip.Addr{})
	if len(unparsed.Used) != 3 || unparsed.UsedCompact != nil {
		t.Errorf("no base: used %v, usedCompact %v; want the map", unparsed.Used, unparsed.UsedCompact)
	}
	var none v1alpha2.EipStatus
	UsedForm{Mode: UsedCompact}.fill(&none, &v1alpha2.EipStatus{}, nil, base)
	if none.Used != nil || none.UsedCompact != nil {
		t.Errorf("nothing in use: %+v", none)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// waitCompact waits until an Eip's status lists exactly want in use, in
// the compact form alone.
func waitCompact(t *testing.T, eip string, want ...string) {
	t.Helper()
	waitEipStatus(t, eip, func(st v1alpha2.EipStatus) error {
		if st.Used != nil || st.UsedCompact == nil {
			return fmt.Errorf("used %v, usedCompact %v; want the compact form alone", st.Used, st.UsedCompact)
		}
		spans, err := eipused.Decode(st.UsedCompact)
		if err != nil {
			return err
		}
		var got []string
		for _, s := range spans {
			for a := s.First; ; a = a.Next() {
				got = append(got, a.String())
				if a == s.Last {
					break
				}
			}
		}
		if !slices.Equal(got, want) || st.Usage != len(want) {
			return fmt.Errorf("usedCompact %+v holds %v (usage %d), want %v", st.UsedCompact, got, st.Usage, want)
		}
		return nil
	})
}

// noEvent checks that a Service got no event with this reason.
func noEvent(t *testing.T, ns, name, reason string) {
	t.Helper()
	var list corev1.EventList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range list.Items {
		if e.InvolvedObject.Name == name && e.Reason == reason {
			t.Errorf("%s/%s got a %s event: %s", ns, name, reason, e.Message)
		}
	}
}

// TestRestartWithCompactUsed: with --eip-status-used=compact the Eip's
// status lists its addresses in use as runs, follows releases, and a
// restarted controller hands out the free address between two in use,
// never one a Service holds.
func TestRestartWithCompactUsed(t *testing.T) {
	compact := Options{EipStatusUsed: UsedForm{Mode: UsedCompact}}
	stop := startController(t, compact)
	withBgp(t)
	createEip(t, "compact", "198.18.6.0/29", asDefault)
	ns := namespace(t, nil)
	for i, name := range []string{"a", "b", "c"} {
		createService(t, ns, name)
		waitIngress(t, ns, name, fmt.Sprintf("198.18.6.%d", i))
	}
	waitCompact(t, "compact", "198.18.6.0", "198.18.6.1", "198.18.6.2")
	if err := env.Client.Delete(context.Background(), &corev1.Service{ObjectMeta: objMeta(ns, "b")}); err != nil {
		t.Fatal(err)
	}
	waitCompact(t, "compact", "198.18.6.0", "198.18.6.2")
	stop()

	startController(t, compact)
	t.Cleanup(func() { deleteEip(t, "compact") })
	createService(t, ns, "d")
	waitIngress(t, ns, "d", "198.18.6.1")
	waitIngress(t, ns, "a", "198.18.6.0")
	waitIngress(t, ns, "c", "198.18.6.2")
	waitCompact(t, "compact", "198.18.6.0", "198.18.6.1", "198.18.6.2")
}

// TestUnnamedRecordYieldsToCertainClaim: a compact status.used says that
// Herald gave an address, not to whom. When two Services show it, the
// one whose claim is certain (Herald's own Service) keeps it at restore,
// even though the migrated one is older; the migrated one is allocated
// anew and told why.
func TestUnnamedRecordYieldsToCertainClaim(t *testing.T) {
	createEip(t, "unnamed", "198.18.7.0/29", asDefault)
	marked, _ := eipused.Encode(netip.MustParseAddr("198.18.7.0"), []netip.Addr{netip.MustParseAddr("198.18.7.0")})
	testenv.Eventually(t, 10*time.Second, func() error {
		var e v1alpha2.Eip
		if err := env.Client.Get(context.Background(), client.ObjectKey{Name: "unnamed"}, &e); err != nil {
			return err
		}
		e.Status.UsedCompact, e.Status.Usage = &marked, 1
		return env.Client.Status().Update(context.Background(), &e)
	})
	ns := namespace(t, nil)
	createService(t, ns, "older", classless)
	giveStatus(t, ns, "older", "198.18.7.0")
	createService(t, ns, "owner")
	giveStatus(t, ns, "owner", "198.18.7.0")

	startController(t, Options{ClasslessServices: true, EipStatusUsed: UsedForm{Mode: UsedCompact}})
	t.Cleanup(func() { deleteEip(t, "unnamed") })
	withBgp(t)
	waitEvent(t, ns, "older", ReasonAddressNotKept, "held by "+ns+"/owner")
	waitIngress(t, ns, "older", "198.18.7.1")
	waitIngress(t, ns, "owner", "198.18.7.0")
	waitCompact(t, "unnamed", "198.18.7.0", "198.18.7.1")
}
