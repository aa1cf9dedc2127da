package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
)

// TestAvoidBuggyIPs: with spec.avoidBuggyIPs an Eip hands out no .0 or
// .255, refuses a request for one with a Warning event, and counts only
// usable addresses in poolSize; an address allocated before the field was
// set stays with its Service, counts in usage, and is reported on the Eip.
func TestAvoidBuggyIPs(t *testing.T) {
	startController(t, Options{})
	withBgp(t)
	createEip(t, "avoid", "198.18.0.254-198.18.1.1", asDefault)
	ns := namespace(t, nil)
	createService(t, ns, "old", annotated(v1alpha2.AnnotationRequestedIP, "198.18.0.255"))
	waitIngress(t, ns, "old", "198.18.0.255")

	setAvoid := func(on bool) {
		testenv.Eventually(t, 10*time.Second, func() error {
			e, err := getEip("avoid")
			if err != nil {
				return err
			}
			e.Spec.AvoidBuggyIPs = on
			return env.Client.Update(context.Background(), e)
		})
	}
	setAvoid(true)
	waitEipStatus(t, "avoid", func(st v1alpha2.EipStatus) error {
		if st.PoolSize != 2 || st.Usage != 1 || st.Occupied {
			return fmt.Errorf("poolSize %d, usage %d, occupied %v; want 2, 1, false", st.PoolSize, st.Usage, st.Occupied)
		}
		return nil
	})
	testenv.Eventually(t, 10*time.Second, func() error {
		notes := eipEvents(t, "avoid", ReasonAvoidedIPsKept)
		if len(notes) == 0 || !strings.Contains(notes[0], "198.18.0.255 ("+ns+"/old)") {
			return fmt.Errorf("events %v, want one naming 198.18.0.255 and %s/old", notes, ns)
		}
		return nil
	})

	createService(t, ns, "a")
	waitIngress(t, ns, "a", "198.18.0.254")
	createService(t, ns, "asks", annotated(v1alpha2.AnnotationRequestedIP, "198.18.1.0"))
	waitEvent(t, ns, "asks", ReasonAllocationFailed, "avoidBuggyIPs")
	createService(t, ns, "b")
	waitIngress(t, ns, "b", "198.18.1.1")
	waitEipStatus(t, "avoid", func(st v1alpha2.EipStatus) error {
		if st.PoolSize != 2 || st.Usage != 3 || !st.Occupied {
			return fmt.Errorf("poolSize %d, usage %d, occupied %v; want 2, 3, true", st.PoolSize, st.Usage, st.Occupied)
		}
		return nil
	})
	testenv.Eventually(t, 10*time.Second, func() error {
		e, err := getEip("avoid")
		if err != nil {
			return err
		}
		c := meta.FindStatusCondition(e.Status.Conditions, v1alpha2.ConditionReady)
		if want := "2 of 2 addresses in use, and 1 ending in .0 or .255 kept from before spec.avoidBuggyIPs was set"; c == nil || c.Message != want {
			return fmt.Errorf("Ready condition %+v, want message %q", c, want)
		}
		return nil
	})
	if _, err := ingressOf(ns, "asks"); err == nil {
		t.Fatal("asks got an address ending in .0")
	}
	waitIngress(t, ns, "old", "198.18.0.255")
}

func waitEipStatus(t *testing.T, name string, check func(v1alpha2.EipStatus) error) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, func() error {
		var e v1alpha2.Eip
		if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, &e); err != nil {
			return err
		}
		return check(e.Status)
	})
}
