package soak

import (
	"context"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// The soak's namespaces: Services in boundNS get addresses from
// boundPool only (a bound Eip excludes the default), those in freeNS from
// defaultPool; any of them may name namedPool.
const (
	leaseNS = "herald-system"
	boundNS = "soak-bound"
	freeNS  = "soak-free"

	defaultPool = "soak-default"
	namedPool   = "soak-named"
	boundPool   = "soak-bound"
)

// pool is one Eip of the soak and how it may grow.
type pool struct {
	name string
	// prefixes are its successive spec.address values; the first is
	// created, each later one replaces the one before (growth).
	prefixes   []netip.Prefix
	isDefault  bool
	namespaces []string
}

// soakPools are small enough that the stream exhausts them, so Services
// wait and are served when others go, and requested addresses are
// often taken.
func soakPools() []*pool {
	return []*pool{
		{name: defaultPool, prefixes: prefixes("10.210.0.0/27"), isDefault: true},
		{name: namedPool, prefixes: prefixes("10.211.0.0/28", "10.211.0.0/27", "10.211.0.0/26")},
		{name: boundPool, prefixes: prefixes("10.212.0.0/28"), namespaces: []string{boundNS}},
	}
}

func prefixes(texts ...string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(texts))
	for _, t := range texts {
		out = append(out, netip.MustParsePrefix(t))
	}
	return out
}

// poolState is a pool during the run: grown is the index of its current
// prefix.
type poolState struct {
	*pool
	grown int
}

func (p *poolState) prefix() netip.Prefix { return p.prefixes[p.grown] }

func (p *poolState) size() int { return 1 << (32 - p.prefix().Bits()) }

// admits mirrors Eip.spec.namespaces: empty binds no namespace and admits
// all.
func (p *poolState) admits(ns string) bool {
	if len(p.namespaces) == 0 {
		return true
	}
	for _, n := range p.namespaces {
		if n == ns {
			return true
		}
	}
	return false
}

func createFixtures(ctx context.Context, c client.Client, pools []*poolState) error {
	for _, name := range []string{leaseNS, boundNS, freeNS} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
			return fmt.Errorf("create namespace %s: %w", name, err)
		}
	}
	for _, p := range pools {
		eip := &v1alpha2.Eip{
			ObjectMeta: metav1.ObjectMeta{Name: p.name, Annotations: map[string]string{}},
			Spec: v1alpha2.EipSpec{
				Address: p.prefix().String(), Protocol: "layer2", Interface: "eth0", Namespaces: p.namespaces,
			},
		}
		if p.isDefault {
			eip.Annotations[v1alpha2.AnnotationDefaultEip] = "true"
		}
		if err := c.Create(ctx, eip); err != nil {
			return fmt.Errorf("create eip %s: %w", p.name, err)
		}
	}
	return nil
}

// grow widens a pool to its next prefix, retrying when the controller's
// finalizer patch raced the update.
func grow(ctx context.Context, c client.Client, p *poolState) error {
	if p.grown+1 >= len(p.prefixes) {
		return nil
	}
	next := p.prefixes[p.grown+1]
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var eip v1alpha2.Eip
		if err := c.Get(ctx, client.ObjectKey{Name: p.name}, &eip); err != nil {
			return err
		}
		eip.Spec.Address = next.String()
		return c.Update(ctx, &eip)
	})
	if err != nil {
		return fmt.Errorf("grow eip %s to %s: %w", p.name, next, err)
	}
	p.grown++
	return nil
}
