package manifests_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/webhook/certs"
)

// accessKinds are the objects of the release that decide what Herald's
// ServiceAccounts may do: RBAC, and the admission policies that narrow it.
// Workloads and webhook configurations are left out (no webhook server
// runs here to answer for them).
var accessKinds = sets.New(
	"Namespace", "ServiceAccount",
	"ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding",
	"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
)

// check is one request made as a ServiceAccount, and whether the API
// server must let it through.
type check struct {
	name  string
	allow bool
	do    func(ctx context.Context, c client.Client) error
	// phrase is in the refusal's message, when set.
	phrase string
}

// TestServiceAccountsAgainstAPIServer applies the release's RBAC and
// admission policies to a real API server (RBAC authorization, the
// ValidatingAdmissionPolicy plugin) and makes requests as each of Herald's
// ServiceAccounts, as their pods would: what each must be able to do, and
// what a stolen token must not. The speaker's token is on every node.
func TestServiceAccountsAgainstAPIServer(t *testing.T) {
	r := loadRelease(t)
	env := testenv.Start(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	admin := env.Client

	for _, u := range r.objs {
		if !accessKinds.Has(u.GetKind()) {
			continue
		}
		if err := admin.Create(ctx, u.DeepCopy(), testenv.Strict); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("create %s %s: %v", u.GetKind(), client.ObjectKeyFromObject(u), err)
		}
	}
	speakerNS, speakerSA := serviceAccount(t, r, r.speaker)
	controllerNS, controllerSA := serviceAccount(t, r, r.controller)
	f := newFixture(ctx, t, admin, speakerNS)

	speaker := impersonate(t, env, speakerNS, speakerSA)
	controller := impersonate(t, env, controllerNS, controllerSA)
	speakerChecks := f.speakerChecks(speakerNS)
	controllerChecks := f.controllerChecks(controllerNS)

	// The authorizer and the policy plugin learn new objects through
	// informers: wait until every allowed request passes, then until the
	// policy refuses the speaker's selector edit, before judging.
	testenv.Eventually(t, 30*time.Second, func() error {
		return errors.Join(allowedOnes(ctx, speaker, speakerChecks), allowedOnes(ctx, controller, controllerChecks))
	})
	// Not fatal: the checks below then say everything the speaker may do.
	err := wait.PollUntilContextTimeout(ctx, testenv.PollInterval, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return f.patchService(ctx, speaker, f.svc, `{"spec":{"selector":{"app":"stolen"}}}`) != nil, nil
	})
	if err != nil {
		t.Errorf("the speaker may still change a Service's selector after 30 s: %v", err)
	}
	run(ctx, t, "speaker", speaker, speakerChecks)
	run(ctx, t, "controller", controller, controllerChecks)
}

// run makes every check once.
func run(ctx context.Context, t *testing.T, who string, c client.Client, checks []check) {
	t.Helper()
	for _, ch := range checks {
		err := ch.do(ctx, c)
		switch {
		case ch.allow && err != nil:
			t.Errorf("%s: %s: refused: %v", who, ch.name, err)
		case !ch.allow && err == nil:
			t.Errorf("%s: %s: allowed, and must not be", who, ch.name)
		case !ch.allow && !apierrors.IsForbidden(err):
			t.Errorf("%s: %s: refused, but not as forbidden: %v", who, ch.name, err)
		case !ch.allow && !strings.Contains(err.Error(), ch.phrase):
			t.Errorf("%s: %s: refused with %q; want a message containing %q", who, ch.name, err, ch.phrase)
		case !ch.allow:
			t.Logf("%s: %s: refused: %v", who, ch.name, err)
		}
	}
}

// allowedOnes makes the checks that must pass, and returns their errors.
func allowedOnes(ctx context.Context, c client.Client, checks []check) error {
	var errs []error
	for _, ch := range checks {
		if ch.allow {
			if err := ch.do(ctx, c); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", ch.name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// impersonate is a client that authenticates as the ServiceAccount, with
// the groups the API server gives every ServiceAccount token.
func impersonate(t *testing.T, env *testenv.Env, ns, sa string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + ns + ":" + sa,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
	}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fixture holds the objects the checks read and write, created by the
// administrator.
type fixture struct {
	t     *testing.T
	admin client.Client
	// svc is a Herald Service the speakers annotate.
	svc client.ObjectKey
	// heraldSecret is in Herald's namespace, otherSecret in default.
	heraldSecret, otherSecret client.ObjectKey
	peer, conf, eip           string
}

func newFixture(ctx context.Context, t *testing.T, admin client.Client, heraldNS string) *fixture {
	t.Helper()
	f := &fixture{
		t: t, admin: admin,
		svc:          client.ObjectKey{Namespace: "default", Name: "web"},
		heraldSecret: client.ObjectKey{Namespace: heraldNS, Name: "bgp-auth"},
		otherSecret:  client.ObjectKey{Namespace: "default", Name: "db-password"},
		peer:         "tor", conf: v1alpha2.BgpConfName, eip: "pool",
	}
	for _, key := range []client.ObjectKey{f.heraldSecret, f.otherSecret} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
			Data: map[string][]byte{"password": []byte("s3cret")}}
		if err := admin.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	f.createService(ctx, f.svc)
	objs := []client.Object{
		&v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: f.peer},
			Spec: v1alpha2.BgpPeerSpec{Conf: &v1alpha2.PeerConf{PeerAs: 65001, NeighborAddress: "192.0.2.1"}}},
		&v1alpha2.BgpConf{ObjectMeta: metav1.ObjectMeta{Name: f.conf},
			Spec: v1alpha2.BgpConfSpec{As: 65000}},
		&v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: f.eip}, Spec: v1alpha2.EipSpec{Address: "192.0.2.10-192.0.2.20"}},
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
	return f
}

// createService creates a LoadBalancer Service with a selector, a label
// and an annotation of its own.
func (f *fixture) createService(ctx context.Context, key client.ObjectKey) {
	f.t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name,
			Labels:      map[string]string{"app": "web"},
			Annotations: map[string]string{"lb.kubesphere.io/v1alpha1": "openelb"}},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Port: 80}},
		},
	}
	if err := f.admin.Create(ctx, svc); err != nil {
		f.t.Fatal(err)
	}
}

// patchService merge-patches a Service, as the speaker writes its owner
// annotation.
func (f *fixture) patchService(ctx context.Context, c client.Client, key client.ObjectKey, patch string) error {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	return c.Patch(ctx, svc, client.RawPatch(types.MergePatchType, []byte(patch)))
}

// get reads one object.
func get(obj client.Object, key client.ObjectKey) func(context.Context, client.Client) error {
	return func(ctx context.Context, c client.Client) error { return c.Get(ctx, key, obj) }
}

// list lists objects, in one namespace or cluster-wide.
func list(l client.ObjectList, opts ...client.ListOption) func(context.Context, client.Client) error {
	return func(ctx context.Context, c client.Client) error { return c.List(ctx, l, opts...) }
}

// ownerPatch is the speaker's own write: the Layer2 owner annotation.
func ownerPatch(node string) string {
	return fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, v1alpha2.AnnotationLayer2Node, node)
}

// holderPatch is the speaker's other write: the VIP holder annotation.
func holderPatch(node string) string {
	return fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, v1alpha2.AnnotationVIPHolder, node)
}

// statusPatch merge-patches the status subresource of a cluster-scoped
// custom resource.
func statusPatch(obj client.Object, name, patch string) func(context.Context, client.Client) error {
	return func(ctx context.Context, c client.Client) error {
		o := obj.DeepCopyObject().(client.Object)
		o.SetName(name)
		return c.Status().Patch(ctx, o, client.RawPatch(types.MergePatchType, []byte(patch)))
	}
}

// lease creates, renews and reads back a Lease, as a speaker's
// leaderelection does for its own.
func lease(ns, name string) func(context.Context, client.Client) error {
	return func(ctx context.Context, c client.Client) error {
		holder := name
		l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder}}
		if err := c.Create(ctx, l); apierrors.IsAlreadyExists(err) {
			if err := c.Get(ctx, client.ObjectKeyFromObject(l), l); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		now := metav1.NewMicroTime(time.Now())
		l.Spec.RenewTime = &now
		return c.Update(ctx, l)
	}
}

// event records an events.k8s.io event about the Service.
func event(ns, name string) func(context.Context, client.Client) error {
	return func(ctx context.Context, c client.Client) error {
		e := &eventsv1.Event{
			ObjectMeta:          metav1.ObjectMeta{Namespace: ns, GenerateName: name + "-"},
			EventTime:           metav1.NewMicroTime(time.Now()),
			Regarding:           corev1.ObjectReference{Kind: "Service", APIVersion: "v1", Namespace: ns, Name: name},
			Reason:              "Layer2Owner",
			Action:              "Announce",
			Type:                corev1.EventTypeNormal,
			ReportingController: "herald.io/test",
			ReportingInstance:   "test",
		}
		return c.Create(ctx, e)
	}
}

// onFreshService runs do against a Service created for it alone, so that
// a write that is wrongly allowed spoils no other check.
func (f *fixture) onFreshService(name string, do func(context.Context, client.Client, client.ObjectKey) error) func(context.Context, client.Client) error {
	n := 0
	return func(ctx context.Context, c client.Client) error {
		n++
		key := client.ObjectKey{Namespace: "default", Name: fmt.Sprintf("%s-%d", name, n)}
		f.createService(ctx, key)
		return do(ctx, c, key)
	}
}

func (f *fixture) servicePatch(name, patch string) func(context.Context, client.Client) error {
	return f.onFreshService(name, func(ctx context.Context, c client.Client, key client.ObjectKey) error {
		return f.patchService(ctx, c, key, patch)
	})
}

// speakerChecks: the speaker reads what it announces, writes its BGP
// status, its Lease, events and the owner and holder annotations — and
// nothing else.
func (f *fixture) speakerChecks(ns string) []check {
	allow := func(name string, do func(context.Context, client.Client) error) check {
		return check{name: name, allow: true, do: do}
	}
	deny := func(name string, do func(context.Context, client.Client) error) check {
		return check{name: name, do: do}
	}
	// byPolicy: refused by the admission policy, which says what changed.
	n := 0
	byPolicy := func(name, what, patch string) check {
		n++
		return check{name: name, do: f.servicePatch(fmt.Sprintf("policy%d", n), patch),
			phrase: "may change only the " + v1alpha2.AnnotationLayer2Node + " and " + v1alpha2.AnnotationVIPHolder +
				" annotations of a Service; this update changes " + what}
	}
	return []check{
		allow("get a Secret in Herald's namespace", get(&corev1.Secret{}, f.heraldSecret)),
		allow("list Services cluster-wide", list(&corev1.ServiceList{})),
		allow("list Nodes", list(&corev1.NodeList{})),
		allow("list BgpPeers", list(&v1alpha2.BgpPeerList{})),
		allow("list Eips", list(&v1alpha2.EipList{})),
		allow("patch the owner annotation of a Service", func(ctx context.Context, c client.Client) error {
			return f.patchService(ctx, c, f.svc, ownerPatch("node-a"))
		}),
		allow("remove the owner annotation of a Service", f.servicePatch("owner-removed", fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, v1alpha2.AnnotationLayer2Node))),
		allow("patch the holder annotation of a Service", func(ctx context.Context, c client.Client) error {
			return f.patchService(ctx, c, f.svc, holderPatch("node-b"))
		}),
		allow("change the holder annotation of a Service", f.onFreshService("holder-changed", func(ctx context.Context, c client.Client, key client.ObjectKey) error {
			if err := f.patchService(ctx, c, key, holderPatch("node-a")); err != nil {
				return err
			}
			return f.patchService(ctx, c, key, holderPatch("node-b"))
		})),
		allow("remove the holder annotation of a Service", f.servicePatch("holder-removed", fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, v1alpha2.AnnotationVIPHolder))),
		allow("patch both annotations at once", f.servicePatch("both", fmt.Sprintf(`{"metadata":{"annotations":{%q:"node-a",%q:"node-b"}}}`,
			v1alpha2.AnnotationLayer2Node, v1alpha2.AnnotationVIPHolder))),
		allow("patch BgpPeer status", statusPatch(&v1alpha2.BgpPeer{}, f.peer, `{"status":{"nodesPeerStatus":{"node-a":{}}}}`)),
		allow("patch BgpConf status", statusPatch(&v1alpha2.BgpConf{}, f.conf, `{"status":{"nodesConfStatus":{"node-a":{"routerId":"192.0.2.2","as":65000}}}}`)),
		allow("create and renew its Lease in Herald's namespace", lease(ns, "node-a")),
		allow("list Leases in Herald's namespace", list(&coordinationv1.LeaseList{}, client.InNamespace(ns))),
		allow("record an event about a Service", event("default", "web")),

		deny("get Herald's CRDs (only the controller keeps their caBundle)", func(ctx context.Context, c client.Client) error {
			return c.Get(ctx, client.ObjectKey{Name: certs.DefaultCRDs()[0]}, crdObject(""))
		}),
		deny("get a Secret in default", get(&corev1.Secret{}, f.otherSecret)),
		deny("list Secrets cluster-wide", list(&corev1.SecretList{})),
		deny("list Secrets in Herald's namespace", list(&corev1.SecretList{}, client.InNamespace(ns))),
		byPolicy("change a Service's selector", "its spec", `{"spec":{"selector":{"app":"stolen"}}}`),
		byPolicy("change a Service's selector with the owner annotation", "its spec",
			fmt.Sprintf(`{"metadata":{"annotations":{%q:"node-a"}},"spec":{"selector":{"app":"stolen"}}}`, v1alpha2.AnnotationLayer2Node)),
		byPolicy("change a Service's selector with the holder annotation", "its spec",
			fmt.Sprintf(`{"metadata":{"annotations":{%q:"node-a"}},"spec":{"selector":{"app":"stolen"}}}`, v1alpha2.AnnotationVIPHolder)),
		byPolicy("change a Service's ports", "its spec", `{"spec":{"ports":[{"port":22}]}}`),
		byPolicy("change a Service's labels", "its labels", `{"metadata":{"labels":{"app":"stolen"}}}`),
		byPolicy("add a label to a Service", "its labels", `{"metadata":{"labels":{"extra":"x"}}}`),
		byPolicy("change another annotation", "another annotation", `{"metadata":{"annotations":{"lb.kubesphere.io/v1alpha1":"other"}}}`),
		byPolicy("add another annotation", "another annotation", `{"metadata":{"annotations":{"eip.openelb.kubesphere.io/v1alpha2":"stolen"}}}`),
		byPolicy("add another annotation with the holder annotation", "another annotation",
			fmt.Sprintf(`{"metadata":{"annotations":{%q:"node-a","vip.herald.io/other":"x"}}}`, v1alpha2.AnnotationVIPHolder)),
		byPolicy("remove another annotation", "another annotation", `{"metadata":{"annotations":{"lb.kubesphere.io/v1alpha1":null}}}`),
		byPolicy("add a finalizer to a Service", "its finalizers", `{"metadata":{"finalizers":["example.com/stuck"]}}`),
		byPolicy("add an owner reference to a Service", "its owner references",
			`{"metadata":{"ownerReferences":[{"apiVersion":"v1","kind":"Node","name":"n","uid":"6c1f7c3a-0000-4000-8000-000000000000"}]}}`),
		deny("update a Service", f.onFreshService("update", func(ctx context.Context, c client.Client, key client.ObjectKey) error {
			var svc corev1.Service
			if err := f.admin.Get(ctx, key, &svc); err != nil {
				return err
			}
			svc.Spec.Selector = map[string]string{"app": "stolen"}
			return c.Update(ctx, &svc)
		})),
		deny("patch a Service's status", f.onFreshService("status", func(ctx context.Context, c client.Client, key client.ObjectKey) error {
			svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
			return c.Status().Patch(ctx, svc, client.RawPatch(types.MergePatchType, []byte(`{"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.99"}]}}}`)))
		})),
		deny("delete a Service", f.onFreshService("delete", func(ctx context.Context, c client.Client, key client.ObjectKey) error {
			return c.Delete(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}})
		})),
		deny("create a Service", func(ctx context.Context, c client.Client) error {
			return c.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "rogue"},
				Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}})
		}),
		deny("create a Lease in default", lease("default", "node-a")),
		deny("patch an Eip", func(ctx context.Context, c client.Client) error {
			e := &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: f.eip}}
			return c.Patch(ctx, e, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"disable":true}}`)))
		}),
		deny("patch Eip status", statusPatch(&v1alpha2.Eip{}, f.eip, `{"status":{"usage":1}}`)),
	}
}

// controllerChecks: the controller allocates (Service spec and status,
// Eips), keeps its certificate Secret and Lease, and the speakers' policy
// does not bind it.
// crdObject is an empty CustomResourceDefinition called name, read and
// written unstructured as the controller's Rotator does.
func crdObject(name string) *unstructured.Unstructured {
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	crd.SetName(name)
	return crd
}

func (f *fixture) controllerChecks(ns string) []check {
	allow := func(name string, do func(context.Context, client.Client) error) check {
		return check{name: name, allow: true, do: do}
	}
	deny := func(name string, do func(context.Context, client.Client) error) check {
		return check{name: name, do: do}
	}
	return []check{
		allow("list Services cluster-wide", list(&corev1.ServiceList{})),
		allow("list Namespaces", list(&corev1.NamespaceList{})),
		allow("patch a Service's spec, labels and annotations", f.servicePatch("controller-edit",
			`{"metadata":{"labels":{"x":"y"},"annotations":{"eip.openelb.kubesphere.io/v1alpha2":"pool"}},"spec":{"loadBalancerIP":"192.0.2.10"}}`)),
		allow("patch a Service's status", f.onFreshService("controller-status", func(ctx context.Context, c client.Client, key client.ObjectKey) error {
			svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
			return c.Status().Patch(ctx, svc, client.RawPatch(types.MergePatchType, []byte(`{"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.10"}]}}}`)))
		})),
		allow("patch Eip status", statusPatch(&v1alpha2.Eip{}, f.eip, `{"status":{"poolSize":11}}`)),
		allow("list Eips", list(&v1alpha2.EipList{})),
		allow("read its certificate Secret", get(&corev1.Secret{}, client.ObjectKey{Namespace: ns, Name: f.heraldSecret.Name})),
		allow("create and renew its Lease", lease(ns, "herald-controller")),
		allow("record an event", event("default", "web")),
		allow("read kube-proxy's ConfigMap", func(ctx context.Context, c client.Client) error {
			err := c.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "kube-proxy"}, &corev1.ConfigMap{})
			if apierrors.IsNotFound(err) {
				return nil // authorized; there is none here
			}
			return err
		}),

		allow("get and update Herald's CRDs (their conversion caBundle)", func(ctx context.Context, c client.Client) error {
			for _, name := range certs.DefaultCRDs() {
				crd := crdObject(name)
				if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
					return err
				}
				if err := c.Update(ctx, crd); err != nil {
					return err
				}
			}
			return nil
		}),

		deny("get another CRD", func(ctx context.Context, c client.Client) error {
			return c.Get(ctx, client.ObjectKey{Name: "widgets.example.com"}, crdObject(""))
		}),
		deny("list CRDs", func(ctx context.Context, c client.Client) error {
			l := &unstructured.UnstructuredList{}
			l.SetAPIVersion("apiextensions.k8s.io/v1")
			l.SetKind("CustomResourceDefinitionList")
			return c.List(ctx, l)
		}),
		deny("get a Secret in default", get(&corev1.Secret{}, f.otherSecret)),
		deny("list Secrets cluster-wide", list(&corev1.SecretList{})),
		deny("delete a Service", f.onFreshService("controller-delete", func(ctx context.Context, c client.Client, key client.ObjectKey) error {
			return c.Delete(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}})
		})),
		deny("patch BgpPeers", func(ctx context.Context, c client.Client) error {
			p := &v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: f.peer}}
			return c.Patch(ctx, p, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"conf":{"peerAs":65002}}}`)))
		}),
	}
}
