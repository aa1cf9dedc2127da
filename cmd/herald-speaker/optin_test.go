package main

import (
	"testing"

	"github.com/herald-lb/herald/internal/optin"
)

// TestPolicyReachesReconciler: the speaker's Reconciler carries the policy
// as text; what it decodes must be what the flags said, class included, or
// the speakers would announce another set than the controller allocates.
func TestPolicyReachesReconciler(t *testing.T) {
	for _, f := range []flags{
		{class: "herald.io/lb"},
		{class: "example.com/lb", optin: optin.Policy{MetalLBAnnotations: true}},
		{class: "herald.io/lb", optin: optin.Policy{ClasslessServices: true}},
		{class: "x.io/y", optin: optin.Policy{MetalLBAnnotations: true, ClasslessServices: true}},
	} {
		got := optin.ParsePolicy(f.policy().String())
		want := f.optin
		want.Class = f.class
		if got != want {
			t.Errorf("flags class=%q %+v: the reconciler reads %+v", f.class, f.optin, got)
		}
	}
}
