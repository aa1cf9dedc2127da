package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
)

func getEip(name string) (*v1alpha2.Eip, error) {
	var e v1alpha2.Eip
	err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, &e)
	return &e, err
}

func TestEipStatus(t *testing.T) {
	startController(t, Options{})
	withBgp(t)
	createEip(t, "status-v4", "192.0.2.32/29", asDefault)
	createEip(t, "status-v6", "2001:db8:5::10-2001:db8:5::1f")
	ns := namespace(t, nil)
	createService(t, ns, "a")
	waitIngress(t, ns, "a", "192.0.2.32")
	createService(t, ns, "b")
	waitIngress(t, ns, "b", "192.0.2.33")

	testenv.Eventually(t, 10*time.Second, func() error {
		e, err := getEip("status-v4")
		if err != nil {
			return err
		}
		st := e.Status
		want := fmt.Sprintf("%+v", v1alpha2.EipStatus{
			Usage: 2, PoolSize: 8, FirstIP: "192.0.2.32", LastIP: "192.0.2.39", Ready: true, V4: true,
			Used: map[string]string{"192.0.2.32": ns + "/a", "192.0.2.33": ns + "/b"},
		})
		st.Conditions = nil
		if got := fmt.Sprintf("%+v", st); got != want {
			return fmt.Errorf("status\n got %s\nwant %s", got, want)
		}
		c := meta.FindStatusCondition(e.Status.Conditions, v1alpha2.ConditionReady)
		if c == nil || c.Status != "True" || c.Message != "2 of 8 addresses in use" {
			return fmt.Errorf("Ready condition = %+v", c)
		}
		return nil
	})
	testenv.Eventually(t, 10*time.Second, func() error {
		e, err := getEip("status-v6")
		if err != nil {
			return err
		}
		if e.Status.PoolSize != 16 || e.Status.V4 || !e.Status.Ready || e.Status.LastIP != "2001:db8:5::1f" {
			return fmt.Errorf("v6 status = %+v", e.Status)
		}
		return nil
	})
}

func TestEipInvalidReported(t *testing.T) {
	startController(t, Options{})
	// Without the webhook (as when Eips predate Herald), a bad Eip is
	// left out of allocation and its status says why.
	createEip(t, "invalid-addr", "192.0.2.300")
	createEip(t, "overlap-old", "192.0.2.48/29")
	createEip(t, "overlap-new", "192.0.2.50-192.0.2.60")
	testenv.Eventually(t, 10*time.Second, func() error {
		e, err := getEip("invalid-addr")
		if err != nil {
			return err
		}
		c := meta.FindStatusCondition(e.Status.Conditions, v1alpha2.ConditionReady)
		if c == nil || c.Status != "False" || c.Reason != ReasonInvalid || !strings.Contains(c.Message, `spec.address: Invalid value: "192.0.2.300"`) {
			return fmt.Errorf("Ready condition = %+v", c)
		}
		return nil
	})
	// The older of two overlapping Eips wins (by name within the same
	// second); the other is refused and names it.
	testenv.Eventually(t, 10*time.Second, func() error {
		var invalid []string
		for name, other := range map[string]string{"overlap-old": "overlap-new", "overlap-new": "overlap-old"} {
			e, err := getEip(name)
			if err != nil {
				return err
			}
			c := meta.FindStatusCondition(e.Status.Conditions, v1alpha2.ConditionReady)
			if c == nil {
				return fmt.Errorf("%s has no Ready condition yet", name)
			}
			if c.Status == "False" && strings.Contains(c.Message, fmt.Sprintf("overlaps Eip %q", other)) {
				invalid = append(invalid, name)
			}
		}
		if len(invalid) != 1 {
			return fmt.Errorf("refused overlapping Eips = %v, want exactly one", invalid)
		}
		return nil
	})
}

// TestEipDeletionWaits: an Eip in use is not removed under its Services;
// its status says what it waits for, it hands out nothing new meanwhile,
// and it goes once the last Service lets go.
func TestEipDeletionWaits(t *testing.T) {
	startController(t, Options{})
	createEip(t, "doomed", "192.0.2.56/30", asDefault)
	ns := namespace(t, nil)
	createService(t, ns, "holder")
	waitIngress(t, ns, "holder", "192.0.2.56")

	ctx := context.Background()
	if err := env.Client.Delete(ctx, &v1alpha2.Eip{ObjectMeta: objMeta("", "doomed")}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		e, err := getEip("doomed")
		if err != nil {
			return err
		}
		c := meta.FindStatusCondition(e.Status.Conditions, v1alpha2.ConditionReady)
		if c == nil || c.Reason != ReasonTerminating || !strings.Contains(c.Message, ns+"/holder") {
			return fmt.Errorf("Ready condition = %+v", c)
		}
		return nil
	})
	createService(t, ns, "newcomer")
	waitEvent(t, ns, "newcomer", ReasonAllocationFailed, "being deleted")

	if err := env.Client.Delete(ctx, &corev1.Service{ObjectMeta: objMeta(ns, "holder")}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if _, err := getEip("doomed"); err == nil {
			return fmt.Errorf("eip still there")
		} else {
			return client.IgnoreNotFound(err)
		}
	})
}

// TestEipReleasedOnUninstall: while Herald's API is being removed (the
// Eip CRD is being deleted), an Eip in use goes at once instead of waiting
// for its Services, with a Warning event naming them.
func TestEipReleasedOnUninstall(t *testing.T) {
	startController(t, Options{uninstalling: func(context.Context) (bool, error) { return true, nil }})
	createEip(t, "uninstalled", "192.0.2.60/30", asDefault)
	ns := namespace(t, nil)
	createService(t, ns, "holder")
	waitIngress(t, ns, "holder", "192.0.2.60")
	testenv.Eventually(t, 10*time.Second, func() error {
		e, err := getEip("uninstalled")
		if err != nil {
			return err
		}
		if !controllerutil.ContainsFinalizer(e, EipFinalizer) {
			return fmt.Errorf("no finalizer yet")
		}
		return nil
	})
	if err := env.Client.Delete(context.Background(), &v1alpha2.Eip{ObjectMeta: objMeta("", "uninstalled")}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if _, err := getEip("uninstalled"); err == nil {
			return fmt.Errorf("eip still there")
		} else {
			return client.IgnoreNotFound(err)
		}
	})
	waitEvent(t, "", "uninstalled", ReasonUninstalled, ns+"/holder")
}

// TestEipCRDDeleting reads the real CRD: present and not being deleted.
func TestEipCRDDeleting(t *testing.T) {
	deleting, err := eipCRDDeleting(context.Background(), env.Client)
	if err != nil || deleting {
		t.Fatalf("eipCRDDeleting = %v, %v; want false, nil", deleting, err)
	}
}
