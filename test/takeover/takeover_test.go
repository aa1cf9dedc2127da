package takeover

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha1"
	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/controllers"
	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/test/controllerproc"
	"github.com/herald-lb/herald/webhook/certs"
	"github.com/herald-lb/herald/webhook/webhooktest"
)

// What OpenELB leaves on the objects it managed (its pkg/constant).
const (
	openelbServiceFinalizer = "finalizer.lb.kubesphere.io/v1alpha1"
	openelbEipLabel         = "eip.openelb.kubesphere.io/v1alpha2"
	openelbWebhook          = "openelb-admission"
	appNS                   = "apps"
)

// TestTakeOverFromOpenELB replaces a running OpenELB in place against the
// real API server and the real herald-controller binary, as the README's
// migration steps do, except that the operator forgot to delete OpenELB's
// admission configuration:
//
//   - OpenELB's history: its first CRDs stored v1alpha1 (an Eip, the
//     BgpConf and a BgpPeer written then stay at v1alpha1 in etcd), later
//     ones stored v1alpha2 with conversion None (more objects written
//     through v1alpha2). Every Eip carries OpenELB's finalizer and status;
//     Services carry OpenELB's annotations, label, finalizer and the
//     addresses it gave them (one of them requested by annotation).
//   - OpenELB's openelb-admission stays, failurePolicy Fail, its server
//     gone: every Eip write fails.
//   - Herald's CRDs from deploy/herald.yaml are applied over OpenELB's and
//     herald-controller starts with its webhooks.
//
// Then: Herald reports openelb-admission (a ForeignWebhook event naming
// the kubectl command) and deletes nothing, and the Eips' status is right
// even while it blocks their updates; every object reads through
// v1alpha2 with its fields, renamed ones included, and through v1alpha1
// (the KubeSphere console's BgpConf list); every Service keeps its
// address, loses only OpenELB's finalizer and keeps its annotations and
// label; each Eip's usage and used map count exactly its Services. Once
// the operator deletes openelb-admission, the unused Eip loses its
// finalizer, and a new Service gets an address no old one holds.
func TestTakeOverFromOpenELB(t *testing.T) {
	env := testenv.Start(t, testenv.Options{CRDDirectoryPaths: []string{t.TempDir()}})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := webhooktest.Client(t, env.Config)

	// OpenELB's first CRDs: v1alpha1 only, stored.
	crds := webhooktest.CRDs(t)
	webhooktest.InstallOpenELBv1alpha1(ctx, t, c, crds)
	v1Objects := []client.Object{
		&v1alpha1.Eip{ObjectMeta: openelbEipMeta("eip-bgp"), Spec: v1alpha1.EipSpec{Address: "10.10.0.0/24", Protocol: "bgp"}},
		&v1alpha1.BgpConf{ObjectMeta: metav1.ObjectMeta{Name: v1alpha2.BgpConfName}, Spec: v1alpha1.BgpConfSpec{As: 64513, RouterId: "10.0.0.10", Port: 17900}},
		&v1alpha1.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: "tor-v1"}, Spec: v1alpha1.BgpPeerSpec{
			Config: v1alpha1.NeighborConfig{PeerAs: 64512, NeighborAddress: "10.0.0.1"}, AddPaths: v1alpha1.AddPaths{SendMax: 4}}},
	}
	for _, obj := range v1Objects {
		testenv.Eventually(t, 30*time.Second, func() error { return c.Create(ctx, obj) })
	}

	// OpenELB v0.6: both served, v1alpha2 stored, conversion None.
	webhooktest.ReplaceCRDs(ctx, t, c, crds, webhooktest.ConversionNone)
	v2Objects := []client.Object{
		&v1alpha2.Eip{ObjectMeta: openelbEipMeta("eip-l2"), Spec: v1alpha2.EipSpec{Address: "10.20.0.0/28", Protocol: v1alpha2.ProtocolLayer2, Interface: "eth0"}},
		&v1alpha2.Eip{ObjectMeta: openelbEipMeta("eip-unused"), Spec: v1alpha2.EipSpec{Address: "10.30.0.0/28", Protocol: v1alpha2.ProtocolBGP}},
		&v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: "tor-v2"}, Spec: v1alpha2.BgpPeerSpec{Conf: &v1alpha2.PeerConf{PeerAs: 64512, NeighborAddress: "10.0.0.2"}}},
	}
	for _, obj := range v2Objects {
		testenv.Eventually(t, 30*time.Second, func() error { return c.Create(ctx, obj) })
	}
	// The status OpenELB wrote, stale on purpose: Herald's counts must
	// come from the Services, not from it.
	for _, name := range []string{"eip-bgp", "eip-l2", "eip-unused"} {
		var e v1alpha2.Eip
		get(ctx, t, c, name, &e)
		e.Status = v1alpha2.EipStatus{Usage: 9, PoolSize: 1, Used: map[string]string{"10.99.99.99": "gone/svc"}, Ready: true, V4: true}
		if err := c.Status().Update(ctx, &e); err != nil {
			t.Fatal(err)
		}
	}
	for _, crd := range crds {
		var got apiextensionsv1.CustomResourceDefinition
		get(ctx, t, c, crd.Name, &got)
		if !slices.Equal(slices.Sorted(slices.Values(got.Status.StoredVersions)), []string{"v1alpha1", "v1alpha2"}) {
			t.Fatalf("CRD %s: storedVersions %v, want v1alpha1 and v1alpha2 (the history is not what it should be)", crd.Name, got.Status.StoredVersions)
		}
	}

	// The Services OpenELB served.
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appNS}}); err != nil {
		t.Fatal(err)
	}
	services := map[string]openelbService{
		"web-a":   {eip: "eip-bgp", ip: "10.10.0.1"},
		"web-b":   {eip: "eip-bgp", ip: "10.10.0.2"},
		"web-req": {eip: "eip-bgp", ip: "10.10.0.7", requested: true},
		"web-l2":  {eip: "eip-l2", ip: "10.20.0.3", layer2Node: "node1"},
	}
	for name, s := range services {
		s.create(ctx, t, c, name)
	}

	// OpenELB's admission configuration, left behind: its Service is gone.
	leftover := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: openelbWebhook},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "validate.eip.network.kubesphere.io",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{
				Namespace: "openelb-system", Name: "openelb-controller", Path: ptr.To("/validate-network-kubesphere-io-v1alpha2-eip")}},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{v1alpha2.GroupVersion.Group}, APIVersions: []string{"v1alpha2"}, Resources: []string{"eips"}},
			}},
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			MatchPolicy:             ptr.To(admissionregistrationv1.Equivalent),
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
	if err := c.Create(ctx, leftover); err != nil {
		t.Fatal(err)
	}

	// Herald: its namespace, the release's CRDs applied over OpenELB's,
	// its webhook configurations and the controller.
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: certs.DefaultNamespace}}); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	base := "https://127.0.0.1:" + strconv.Itoa(port)
	webhooktest.ReplaceCRDs(ctx, t, c, releaseCRDs(t), func(crd *apiextensionsv1.CustomResourceDefinition) {
		// The release calls the webhook Service; here the API server
		// reaches the controller at an address.
		cc := crd.Spec.Conversion.Webhook.ClientConfig
		cc.URL, cc.Service = ptr.To(base+"/convert"), nil
	})
	configs, err := webhooktest.Configurations(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range configs {
		if err := c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	bin, err := controllerBin.Path()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := env.WriteKubeconfig(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	proc, err := controllerproc.Start(t, controllerproc.Options{
		Binary: bin, Kubeconfig: kubeconfig, LeaseNamespace: certs.DefaultNamespace,
		Args: []string{
			"--enable-webhooks=true",
			"--webhook-host=127.0.0.1",
			"--webhook-port=" + strconv.Itoa(port),
			"--webhook-cert-ips=127.0.0.1",
			"--webhook-cert-dir=" + filepath.Join(t.TempDir(), "certs"),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := webhooktest.WaitConverting(ctx, c); err != nil {
		t.Fatalf("%v\n%s", err, proc.Tail(30))
	}

	t.Run("LeftoverWebhookReported", func(t *testing.T) {
		waitEvent(ctx, t, c, openelbWebhook, controllers.ReasonForeignWebhook,
			"kubectl delete validatingwebhookconfiguration openelb-admission")
		// It blocks Herald's own Eip writes: the unused Eip keeps its
		// finalizer for now. Herald deleted nothing.
		var e v1alpha2.Eip
		get(ctx, t, c, "eip-unused", &e)
		if !slices.Contains(e.Finalizers, controllers.EipFinalizer) {
			t.Errorf("eip-unused lost its finalizer through openelb-admission: %v", e.Finalizers)
		}
		// Its status still tells the truth: status is a subresource the
		// leftover does not gate.
		testenv.Eventually(t, 30*time.Second, func() error {
			get(ctx, t, c, "eip-unused", &e)
			if e.Status.Usage != 0 || len(e.Status.Used) != 0 {
				return fmt.Errorf("eip-unused: usage %d, used %v while OpenELB's configuration blocks its updates", e.Status.Usage, e.Status.Used)
			}
			return nil
		})
		if err := c.Get(ctx, client.ObjectKeyFromObject(leftover), &admissionregistrationv1.ValidatingWebhookConfiguration{}); err != nil {
			t.Errorf("openelb-admission: %v (Herald must never delete it)", err)
		}
	})
	// The operator follows the event's advice.
	if err := c.Delete(ctx, leftover); err != nil {
		t.Fatal(err)
	}

	t.Run("ObjectsReadThroughBothVersions", func(t *testing.T) {
		var eip v1alpha2.Eip
		get(ctx, t, c, "eip-bgp", &eip)
		same(t, "the v1alpha1-stored Eip through v1alpha2", v1alpha2.EipSpec{Address: "10.10.0.0/24", Protocol: v1alpha2.ProtocolBGP}, eip.Spec)
		var conf v1alpha2.BgpConf
		get(ctx, t, c, v1alpha2.BgpConfName, &conf)
		same(t, "the v1alpha1-stored BgpConf through v1alpha2", v1alpha2.BgpConfSpec{As: 64513, RouterId: "10.0.0.10", ListenPort: 17900}, conf.Spec)
		var peer v1alpha2.BgpPeer
		get(ctx, t, c, "tor-v1", &peer)
		if peer.Spec.Conf == nil || peer.Spec.Conf.PeerAs != 64512 || peer.Spec.Conf.NeighborAddress != "10.0.0.1" ||
			len(peer.Spec.AfiSafis) == 0 || peer.Spec.AfiSafis[0].AddPaths == nil || peer.Spec.AfiSafis[0].AddPaths.Config.SendMax != 4 {
			t.Errorf("the v1alpha1-stored BgpPeer through v1alpha2: %+v", peer.Spec)
		}
		// The KubeSphere console's call.
		var confs v1alpha1.BgpConfList
		if err := c.List(ctx, &confs); err != nil || len(confs.Items) != 1 || confs.Items[0].Spec.Port != 17900 {
			t.Errorf("v1alpha1 BgpConf list: %v, %+v", err, confs.Items)
		}
		var peers1 v1alpha1.BgpPeerList
		if err := c.List(ctx, &peers1); err != nil || len(peers1.Items) != 2 {
			t.Errorf("v1alpha1 BgpPeer list: %v, %d items", err, len(peers1.Items))
		}
	})

	t.Run("ServicesKeepTheirAddresses", func(t *testing.T) {
		for name, s := range services {
			testenv.Eventually(t, 30*time.Second, func() error {
				var svc corev1.Service
				if err := c.Get(ctx, client.ObjectKey{Namespace: appNS, Name: name}, &svc); err != nil {
					return err
				}
				if slices.Contains(svc.Finalizers, openelbServiceFinalizer) {
					return fmt.Errorf("service %s still carries %s", name, openelbServiceFinalizer)
				}
				return s.check(&svc)
			})
		}
	})

	t.Run("UsageIsExact", func(t *testing.T) {
		want := map[string]map[string]string{
			"eip-bgp":    {"10.10.0.1": appNS + "/web-a", "10.10.0.2": appNS + "/web-b", "10.10.0.7": appNS + "/web-req"},
			"eip-l2":     {"10.20.0.3": appNS + "/web-l2"},
			"eip-unused": nil,
		}
		for name, used := range want {
			testenv.Eventually(t, 30*time.Second, func() error {
				var e v1alpha2.Eip
				if err := c.Get(ctx, client.ObjectKey{Name: name}, &e); err != nil {
					return err
				}
				if e.Status.Usage != len(used) || !cmp.Equal(e.Status.Used, used, cmp.Comparer(func(a, b map[string]string) bool { return len(a) == 0 && len(b) == 0 || cmp.Equal(a, b) })) {
					return fmt.Errorf("eip %s: usage %d, used %v; want %d, %v", name, e.Status.Usage, e.Status.Used, len(used), used)
				}
				if hasFinalizer := slices.Contains(e.Finalizers, controllers.EipFinalizer); hasFinalizer != (len(used) > 0) {
					return fmt.Errorf("eip %s: finalizers %v with %d addresses in use", name, e.Finalizers, len(used))
				}
				return nil
			})
		}
	})

	t.Run("NewServiceGetsAFreeAddress", func(t *testing.T) {
		s := openelbService{eip: "eip-bgp"}
		s.create(ctx, t, c, "web-new")
		var ip string
		testenv.Eventually(t, 30*time.Second, func() error {
			var svc corev1.Service
			if err := c.Get(ctx, client.ObjectKey{Namespace: appNS, Name: "web-new"}, &svc); err != nil {
				return err
			}
			if len(svc.Status.LoadBalancer.Ingress) == 0 {
				return fmt.Errorf("web-new has no address yet")
			}
			ip = svc.Status.LoadBalancer.Ingress[0].IP
			return nil
		})
		for name, old := range services {
			if old.ip == ip {
				t.Errorf("web-new got %s, which %s holds", ip, name)
			}
		}
		if !strings.HasPrefix(ip, "10.10.0.") {
			t.Errorf("web-new got %s, outside eip-bgp", ip)
		}
	})
}

// openelbService is a LoadBalancer Service as OpenELB left it.
type openelbService struct {
	eip, ip    string
	requested  bool   // the address was asked for by annotation
	layer2Node string // OpenELB's layer2 owner annotation
}

func (s openelbService) annotations() map[string]string {
	a := map[string]string{v1alpha2.AnnotationLoadBalancer: "openelb", v1alpha2.AnnotationEip: s.eip}
	if s.requested {
		a[v1alpha2.AnnotationRequestedIP] = s.ip
	}
	if s.layer2Node != "" {
		a[v1alpha2.AnnotationLayer2Node] = s.layer2Node
	}
	return a
}

// create writes the Service and, when s.ip is set, the address OpenELB
// gave it, with OpenELB's label and finalizer.
func (s openelbService) create(ctx context.Context, t *testing.T, c client.Client, name string) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: appNS, Name: name, Annotations: s.annotations()},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}},
		},
	}
	if s.ip != "" {
		svc.Labels = map[string]string{openelbEipLabel: s.eip}
		svc.Finalizers = []string{openelbServiceFinalizer}
	}
	if err := c.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	if s.ip == "" {
		return
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: s.ip}}
	if err := c.Status().Update(ctx, svc); err != nil {
		t.Fatal(err)
	}
}

// check compares a Service after the takeover with how OpenELB left it.
func (s openelbService) check(svc *corev1.Service) error {
	if ing := svc.Status.LoadBalancer.Ingress; len(ing) != 1 || ing[0].IP != s.ip {
		return fmt.Errorf("service %s: ingress %v, want %s", svc.Name, ing, s.ip)
	}
	for k, v := range s.annotations() {
		if svc.Annotations[k] != v {
			return fmt.Errorf("service %s: annotation %s = %q, want %q", svc.Name, k, svc.Annotations[k], v)
		}
	}
	if svc.Labels[openelbEipLabel] != s.eip {
		return fmt.Errorf("service %s: label %s = %q, want %q", svc.Name, openelbEipLabel, svc.Labels[openelbEipLabel], s.eip)
	}
	return nil
}

// openelbEipMeta is an Eip's metadata as OpenELB's IPAM leaves it.
func openelbEipMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Finalizers: []string{controllers.EipFinalizer}}
}

// releaseCRDs are the CRDs of deploy/herald.yaml, the file users apply.
func releaseCRDs(t *testing.T) []*apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := testenv.ReadObjects(filepath.Join(root, "deploy", "herald.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, u := range objs {
		if u.GetKind() != "CustomResourceDefinition" {
			continue
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, crd); err != nil {
			t.Fatalf("CRD %s: %v", u.GetName(), err)
		}
		if crd.Spec.Conversion == nil || crd.Spec.Conversion.Webhook == nil || crd.Spec.Conversion.Webhook.ClientConfig == nil {
			t.Fatalf("CRD %s in deploy/herald.yaml has no conversion webhook", crd.Name)
		}
		crds = append(crds, crd)
	}
	if len(crds) != 3 {
		t.Fatalf("deploy/herald.yaml has %d CRDs, want 3", len(crds))
	}
	return crds
}

// get reads a cluster-scoped object, retrying while the API server
// catches up with a CRD change.
func get(ctx context.Context, t *testing.T, c client.Client, name string, obj client.Object) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() error { return c.Get(ctx, client.ObjectKey{Name: name}, obj) })
}

func same(t *testing.T, what string, want, got any) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

// waitEvent waits for an event with this reason on the cluster-scoped
// object name (such events land in "default") whose note contains text.
func waitEvent(ctx context.Context, t *testing.T, c client.Client, name, reason, text string) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() error {
		var list corev1.EventList
		if err := c.List(ctx, &list, client.InNamespace(metav1.NamespaceDefault)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.InvolvedObject.Name == name && e.Reason == reason && strings.Contains(e.Message, text) {
				return nil
			}
		}
		return fmt.Errorf("no %s event on %s containing %q", reason, name, text)
	})
}

// freePort returns a TCP port on 127.0.0.1 nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
