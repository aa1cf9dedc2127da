package webhook_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha1"
	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/webhook/certs"
	"github.com/herald-lb/herald/webhook/convert"
)

// These tests run the conversion webhook behind the real API server: the
// suite's server answers the CRDs' /convert (startServer points them at
// it), so every v1alpha1 read or write below goes through webhook/convert.

// equal fails the test with a diff unless want and got are semantically
// equal.
func equal(t *testing.T, what string, want, got any) {
	t.Helper()
	if !apiequality.Semantic.DeepEqual(want, got) {
		t.Errorf("%s (-want +got):\n%s", what, cmp.Diff(want, got))
	}
}

// noBookkeeping fails when a conversion annotation shows where it must
// not: neither version's clients see the other's bookkeeping after a write
// that lost nothing.
func noBookkeeping(t *testing.T, obj client.Object, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if v, ok := obj.GetAnnotations()[k]; ok {
			t.Errorf("%s %s carries annotation %s=%s", obj.GetObjectKind().GroupVersionKind().Version, obj.GetName(), k, v)
		}
	}
}

// TestV1alpha1WritesReadThroughV1alpha2 creates each kind through
// v1alpha1, as an old manifest would be applied, with every v1alpha1 field
// set, and reads it through v1alpha2: renamed fields are where v1alpha2
// has them (OpenELB's conversion None dropped them), and reading it back
// through v1alpha1 gives what was written, with no annotation.
func TestV1alpha1WritesReadThroughV1alpha2(t *testing.T) {
	ctx := context.Background()
	c, _ := userClient(t)

	eip := manifest(t, `
apiVersion: network.kubesphere.io/v1alpha1
kind: Eip
metadata: {name: v1alpha1-eip}
spec: {address: 10.71.0.0/28, protocol: bgp, disable: true, usingKnownIPs: true}`)
	if err := c.Create(ctx, eip); err != nil {
		t.Fatal(err)
	}
	deleteAfter(t, eip)
	// Status through v1alpha1's status subresource, as OpenELB's old
	// controller wrote it.
	var e1 v1alpha1.Eip
	if err := c.Get(ctx, client.ObjectKey{Name: "v1alpha1-eip"}, &e1); err != nil {
		t.Fatal(err)
	}
	e1.Status = v1alpha1.EipStatus{Occupied: true, Usage: 16, PoolSize: 16}
	if err := c.Status().Update(ctx, &e1); err != nil {
		t.Fatal(err)
	}
	var e2 v1alpha2.Eip
	if err := c.Get(ctx, client.ObjectKey{Name: "v1alpha1-eip"}, &e2); err != nil {
		t.Fatal(err)
	}
	equal(t, "Eip spec through v1alpha2", v1alpha2.EipSpec{Address: "10.71.0.0/28", Protocol: "bgp", Disable: true, UsingKnownIPs: true}, e2.Spec)
	equal(t, "Eip status through v1alpha2", v1alpha2.EipStatus{Occupied: true, Usage: 16, PoolSize: 16}, e2.Status)
	noBookkeeping(t, &e2, convert.AnnotationV1alpha1Fields, convert.AnnotationV1alpha2Fields)

	conf := manifest(t, `
apiVersion: network.kubesphere.io/v1alpha1
kind: BgpConf
metadata: {name: default}
spec: {as: 4200000001, routerID: 172.22.0.10, port: 17900}`)
	if err := c.Create(ctx, conf); err != nil {
		t.Fatal(err)
	}
	deleteAfter(t, conf)
	var c2 v1alpha2.BgpConf
	if err := c.Get(ctx, client.ObjectKey{Name: "default"}, &c2); err != nil {
		t.Fatal(err)
	}
	equal(t, "BgpConf spec through v1alpha2", v1alpha2.BgpConfSpec{As: 4200000001, RouterId: "172.22.0.10", ListenPort: 17900}, c2.Spec)
	noBookkeeping(t, &c2, convert.AnnotationV1alpha1Fields, convert.AnnotationV1alpha2Fields)

	peer := manifest(t, `
apiVersion: network.kubesphere.io/v1alpha1
kind: BgpPeer
metadata: {name: v1alpha1-peer}
spec:
  config: {peerAs: 65002, neighborAddress: 172.30.0.2}
  addPaths: {sendMax: 4}
  transport: {passiveMode: true, remotePort: 17901}
  usingPortForward: true`)
	if err := c.Create(ctx, peer); err != nil {
		t.Fatal(err)
	}
	deleteAfter(t, peer)
	var p2 v1alpha2.BgpPeer
	if err := c.Get(ctx, client.ObjectKey{Name: "v1alpha1-peer"}, &p2); err != nil {
		t.Fatal(err)
	}
	equal(t, "BgpPeer spec through v1alpha2", v1alpha2.BgpPeerSpec{
		Conf:      &v1alpha2.PeerConf{PeerAs: 65002, NeighborAddress: "172.30.0.2"},
		Transport: &v1alpha2.Transport{PassiveMode: true, RemotePort: 17901},
		AfiSafis: []v1alpha2.AfiSafi{{
			Config:   &v1alpha2.AfiSafiConfig{Family: &v1alpha2.Family{Afi: "AFI_IP", Safi: "SAFI_UNICAST"}, Enabled: true},
			AddPaths: &v1alpha2.AddPaths{Config: &v1alpha2.AddPathsConfig{SendMax: 4}},
		}},
	}, p2.Spec)
	// usingPortForward has no v1alpha2 field: the stored object keeps it
	// in its own annotation, and v1alpha1 reads it back as written.
	if _, ok := p2.Annotations[convert.AnnotationV1alpha1Fields]; !ok {
		t.Errorf("v1alpha2 BgpPeer has no %s annotation for usingPortForward", convert.AnnotationV1alpha1Fields)
	}
	var p1 v1alpha1.BgpPeer
	if err := c.Get(ctx, client.ObjectKey{Name: "v1alpha1-peer"}, &p1); err != nil {
		t.Fatal(err)
	}
	equal(t, "BgpPeer read back through v1alpha1", v1alpha1.BgpPeerSpec{
		Config:           v1alpha1.NeighborConfig{PeerAs: 65002, NeighborAddress: "172.30.0.2"},
		AddPaths:         v1alpha1.AddPaths{SendMax: 4},
		Transport:        v1alpha1.Transport{PassiveMode: true, RemotePort: 17901},
		UsingPortForward: true,
	}, p1.Spec)
	noBookkeeping(t, &p1, convert.AnnotationV1alpha1Fields, convert.AnnotationV1alpha2Fields)
}

// TestV1alpha2FieldsSurviveV1alpha1Updates creates each kind through
// v1alpha2 with fields v1alpha1 has no place for, then does what a
// v1alpha1 client does (get, change a v1alpha1 field, update) and reads
// through v1alpha2: the edit is there and the v1alpha2-only fields
// survived, because the v1alpha1 read carried them in the annotation.
func TestV1alpha2FieldsSurviveV1alpha1Updates(t *testing.T) {
	ctx := context.Background()
	c, _ := userClient(t)

	prio := &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: "v1alpha2-eip"}, Spec: v1alpha2.EipSpec{
		Address: "10.72.0.0/28", Protocol: "layer2", Interface: "eth0", Priority: 5,
		Namespaces: []string{"team-a"}, NamespaceSelector: map[string]string{"team": "a"},
	}}
	if err := c.Create(ctx, prio); err != nil {
		t.Fatal(err)
	}
	deleteAfter(t, prio)
	prio.Status = v1alpha2.EipStatus{Usage: 1, PoolSize: 16, FirstIP: "10.72.0.0", LastIP: "10.72.0.15", Ready: true, V4: true,
		Used: map[string]string{"10.72.0.1": "team-a/web"}}
	if err := c.Status().Update(ctx, prio); err != nil {
		t.Fatal(err)
	}
	want := prio.DeepCopy()
	editV1alpha1(ctx, t, c, &v1alpha1.Eip{}, "v1alpha2-eip", func(o client.Object) { o.(*v1alpha1.Eip).Spec.Disable = true })
	var got v1alpha2.Eip
	if err := c.Get(ctx, client.ObjectKey{Name: "v1alpha2-eip"}, &got); err != nil {
		t.Fatal(err)
	}
	want.Spec.Disable = true
	equal(t, "Eip spec after a v1alpha1 update", want.Spec, got.Spec)
	equal(t, "Eip status after a v1alpha1 update", want.Status, got.Status)
	noBookkeeping(t, &got, convert.AnnotationV1alpha2Fields)

	conf := &v1alpha2.BgpConf{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1alpha2.BgpConfSpec{
		As: 65001, AsPerRack: map[string]v1alpha2.ASNumber{"rack-1": 65101}, ListenPort: 17900,
		ListenAddresses: []string{"0.0.0.0"}, UseMultiplePaths: true,
		GracefulRestart:   &v1alpha2.GracefulRestart{Enabled: true, RestartTime: 120},
		ServiceClusterIPs: []v1alpha2.ServiceIPBlock{{CIDR: "10.96.0.0/12"}},
	}}
	if err := c.Create(ctx, conf); err != nil {
		t.Fatal(err)
	}
	deleteAfter(t, conf)
	wantConf := conf.Spec.DeepCopy()
	editV1alpha1(ctx, t, c, &v1alpha1.BgpConf{}, "default", func(o client.Object) { o.(*v1alpha1.BgpConf).Spec.Port = 17901 })
	var gotConf v1alpha2.BgpConf
	if err := c.Get(ctx, client.ObjectKey{Name: "default"}, &gotConf); err != nil {
		t.Fatal(err)
	}
	wantConf.ListenPort = 17901
	equal(t, "BgpConf spec after a v1alpha1 update", *wantConf, gotConf.Spec)

	hold := intstr.FromString("90")
	peer := &v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: "v1alpha2-peer"}, Spec: v1alpha2.BgpPeerSpec{
		Conf:         &v1alpha2.PeerConf{PeerAs: 65003, NeighborAddress: "172.30.0.3", Description: "tor-1"},
		EbgpMultihop: &v1alpha2.EbgpMultihop{Enabled: true, MultihopTtl: 3},
		Timers:       &v1alpha2.Timers{Config: &v1alpha2.TimersConfig{HoldTime: &hold}},
		Transport:    &v1alpha2.Transport{RemotePort: 179, TcpMss: 1400},
		AfiSafis: []v1alpha2.AfiSafi{
			{Config: &v1alpha2.AfiSafiConfig{Family: &v1alpha2.Family{Afi: "AFI_IP", Safi: "SAFI_UNICAST"}, Enabled: true},
				AddPaths: &v1alpha2.AddPaths{Config: &v1alpha2.AddPathsConfig{SendMax: 2, Receive: true}}},
			{Config: &v1alpha2.AfiSafiConfig{Family: &v1alpha2.Family{Afi: "AFI_IP6", Safi: "SAFI_UNICAST"}, Enabled: true}},
		},
		NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"rack": "1"}},
	}}
	if err := c.Create(ctx, peer); err != nil {
		t.Fatal(err)
	}
	deleteAfter(t, peer)
	wantPeer := peer.Spec.DeepCopy()
	editV1alpha1(ctx, t, c, &v1alpha1.BgpPeer{}, "v1alpha2-peer", func(o client.Object) { o.(*v1alpha1.BgpPeer).Spec.Config.PeerAs = 65004 })
	var gotPeer v1alpha2.BgpPeer
	if err := c.Get(ctx, client.ObjectKey{Name: "v1alpha2-peer"}, &gotPeer); err != nil {
		t.Fatal(err)
	}
	wantPeer.Conf.PeerAs = 65004
	equal(t, "BgpPeer spec after a v1alpha1 update", *wantPeer, gotPeer.Spec)
	noBookkeeping(t, &gotPeer, convert.AnnotationV1alpha1Fields, convert.AnnotationV1alpha2Fields)

	// `kubectl patch --type merge` through v1alpha1: the API server
	// patches the v1alpha1 view, annotation included, so the same holds.
	patched := &unstructured.Unstructured{}
	patched.SetAPIVersion("network.kubesphere.io/v1alpha1")
	patched.SetKind("BgpPeer")
	patched.SetName("v1alpha2-peer")
	if err := c.Patch(ctx, patched, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"transport":{"passiveMode":true}}}`))); err != nil {
		t.Fatalf("merge patch through v1alpha1: %v", err)
	}
	if err := c.Get(ctx, client.ObjectKey{Name: "v1alpha2-peer"}, &gotPeer); err != nil {
		t.Fatal(err)
	}
	wantPeer.Transport.PassiveMode = true
	equal(t, "BgpPeer spec after a v1alpha1 merge patch", *wantPeer, gotPeer.Spec)
}

// editV1alpha1 is a v1alpha1 client's read-modify-write of the object
// called name: it must see the v1alpha2-only fields in the annotation.
func editV1alpha1(ctx context.Context, t *testing.T, c client.Client, obj client.Object, name string, edit func(client.Object)) {
	t.Helper()
	if err := c.Get(ctx, client.ObjectKey{Name: name}, obj); err != nil {
		t.Fatal(err)
	}
	if _, ok := obj.GetAnnotations()[convert.AnnotationV1alpha2Fields]; !ok {
		t.Errorf("%s read through v1alpha1 has no %s annotation", name, convert.AnnotationV1alpha2Fields)
	}
	edit(obj)
	if err := c.Update(ctx, obj); err != nil {
		t.Fatalf("update %s through v1alpha1: %v", name, err)
	}
}

// TestConsoleCalls makes the calls KubeSphere's console makes: it lists
// v1alpha1 BgpConfs to decide whether OpenELB is installed (an empty list
// must be an answer, not an error), and lists v1alpha2 Eips for their
// address, protocol, disable, usage and pool size.
func TestConsoleCalls(t *testing.T) {
	ctx := context.Background()
	c, _ := userClient(t)
	list := func() *unstructured.UnstructuredList {
		t.Helper()
		l := &unstructured.UnstructuredList{}
		l.SetAPIVersion("network.kubesphere.io/v1alpha1")
		l.SetKind("BgpConfList")
		if err := c.List(ctx, l); err != nil {
			t.Fatalf("list v1alpha1 BgpConfs: %v", err)
		}
		return l
	}
	if l := list(); len(l.Items) != 0 {
		t.Fatalf("listed %d v1alpha1 BgpConfs before any was created", len(l.Items))
	}
	conf := &v1alpha2.BgpConf{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1alpha2.BgpConfSpec{As: 65001, ListenPort: 17900}}
	if err := c.Create(ctx, conf); err != nil {
		t.Fatal(err)
	}
	deleteAfter(t, conf)
	l := list()
	if len(l.Items) != 1 {
		t.Fatalf("listed %d v1alpha1 BgpConfs, want 1", len(l.Items))
	}
	if port, _, _ := unstructured.NestedInt64(l.Items[0].Object, "spec", "port"); port != 17900 {
		t.Errorf("v1alpha1 BgpConf spec.port = %d, want 17900 (v1alpha2's listenPort)", port)
	}

	eip := &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: "console-eip"}, Spec: v1alpha2.EipSpec{Address: "10.73.0.0/24", Protocol: "bgp", Disable: true}}
	if err := c.Create(ctx, eip); err != nil {
		t.Fatal(err)
	}
	deleteAfter(t, eip)
	eip.Status = v1alpha2.EipStatus{Usage: 3, PoolSize: 256}
	if err := c.Status().Update(ctx, eip); err != nil {
		t.Fatal(err)
	}
	eips := &unstructured.UnstructuredList{}
	eips.SetAPIVersion("network.kubesphere.io/v1alpha2")
	eips.SetKind("EipList")
	if err := c.List(ctx, eips); err != nil {
		t.Fatalf("list v1alpha2 Eips: %v", err)
	}
	found := false
	for _, u := range eips.Items {
		if u.GetName() != "console-eip" {
			continue
		}
		found = true
		address, _, _ := unstructured.NestedString(u.Object, "spec", "address")
		protocol, _, _ := unstructured.NestedString(u.Object, "spec", "protocol")
		disable, _, _ := unstructured.NestedBool(u.Object, "spec", "disable")
		usage, _, _ := unstructured.NestedInt64(u.Object, "status", "usage")
		size, _, _ := unstructured.NestedInt64(u.Object, "status", "poolSize")
		equal(t, "what the console reads of an Eip",
			[]any{"10.73.0.0/24", "bgp", true, int64(3), int64(256)}, []any{address, protocol, disable, usage, size})
	}
	if !found {
		t.Error("the v1alpha2 Eip list lacks console-eip")
	}
}

// TestConversionCRDsTrustTheServer: the Rotator filled in each CRD's
// conversion caBundle (the CRDs started with none), and the webhook
// server's certificate verifies against it, which is what the API server
// checks before every /convert call.
func TestConversionCRDsTrustTheServer(t *testing.T) {
	ctx := context.Background()
	for _, name := range certs.DefaultCRDs() {
		crd := &unstructured.Unstructured{}
		crd.SetAPIVersion("apiextensions.k8s.io/v1")
		crd.SetKind("CustomResourceDefinition")
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
			t.Fatal(err)
		}
		text, _, _ := unstructured.NestedString(crd.Object, "spec", "conversion", "webhook", "clientConfig", "caBundle")
		bundle, err := base64.StdEncoding.DecodeString(text)
		if err != nil || len(bundle) == 0 {
			t.Errorf("CRD %s: conversion caBundle %q (%v), want the Rotator's", name, text, err)
			continue
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(bundle) {
			t.Errorf("CRD %s: conversion caBundle holds no certificate", name)
			continue
		}
		conn, err := tls.Dial("tcp", suite.addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
		if err != nil {
			t.Errorf("CRD %s: the webhook server's certificate does not verify against the CRD's caBundle: %v", name, err)
			continue
		}
		_ = conn.Close()
	}
}
