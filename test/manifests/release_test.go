package manifests_test

import (
	"path/filepath"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/herald-lb/herald/internal/testenv"
)

// releaseManifest is the install file, relative to the repository root.
const releaseManifest = "deploy/herald.yaml"

// repoFile reads objects from a file given relative to the repository root.
func repoFile(t *testing.T, rel string) []*unstructured.Unstructured {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := testenv.ReadObjects(filepath.Join(root, rel))
	if err != nil {
		t.Fatalf("%v (run `make release-manifest`)", err)
	}
	if len(objs) == 0 {
		t.Fatalf("%s holds no objects", rel)
	}
	return objs
}

// release is deploy/herald.yaml, decoded, with the objects the wiring tests
// look at picked out.
type release struct {
	objs       []*unstructured.Unstructured
	deployment *appsv1.Deployment
	daemonSet  *appsv1.DaemonSet // herald-speaker's
	controller *workload         // herald-controller, the Deployment's pod
	speaker    *workload         // herald-speaker, its DaemonSet's pod
	// keepalivedSet runs herald-keepalived (VIP mode's keepalived).
	keepalivedSet *appsv1.DaemonSet
	keepalived    *workload
	webhookSvc    *corev1.Service
	validating    *admissionregistrationv1.ValidatingWebhookConfiguration
	mutating      *admissionregistrationv1.MutatingWebhookConfiguration
}

// workload is the pod one of Herald's commands runs in: its template's
// spec and labels, its command's container, and that container's flags
// and named ports.
type workload struct {
	kind, name, namespace string
	labels                map[string]string
	pod                   *corev1.PodSpec
	container             *corev1.Container
	args                  map[string]string
	containerPort         map[string]int32
}

// The names of herald-controller's, herald-speaker's and
// herald-keepalived's containers, and of the DaemonSets.
const (
	controllerContainer = "controller"
	speakerContainer    = "speaker"
	keepalivedContainer = "keepalived"
	speakerDaemonSet    = "herald-speaker"
	keepalivedDaemonSet = "herald-keepalived"
)

func loadRelease(t *testing.T) *release {
	t.Helper()
	r := &release{objs: repoFile(t, releaseManifest)}
	r.deployment = only[appsv1.Deployment](t, r.objs, "Deployment")
	r.controller = newWorkload(t, "Deployment", r.deployment.ObjectMeta, &r.deployment.Spec.Template, controllerContainer)
	r.daemonSet = named[appsv1.DaemonSet](t, r.objs, "DaemonSet", speakerDaemonSet)
	r.speaker = newWorkload(t, "DaemonSet", r.daemonSet.ObjectMeta, &r.daemonSet.Spec.Template, speakerContainer)
	r.keepalivedSet = named[appsv1.DaemonSet](t, r.objs, "DaemonSet", keepalivedDaemonSet)
	r.keepalived = newWorkload(t, "DaemonSet", r.keepalivedSet.ObjectMeta, &r.keepalivedSet.Spec.Template, keepalivedContainer)
	if n := len(ofKind[appsv1.DaemonSet](t, r.objs, "DaemonSet")); n != 2 {
		t.Fatalf("%s: %d DaemonSets, want %s and %s", releaseManifest, n, speakerDaemonSet, keepalivedDaemonSet)
	}
	r.webhookSvc = only[corev1.Service](t, r.objs, "Service")
	r.validating = only[admissionregistrationv1.ValidatingWebhookConfiguration](t, r.objs, "ValidatingWebhookConfiguration")
	r.mutating = only[admissionregistrationv1.MutatingWebhookConfiguration](t, r.objs, "MutatingWebhookConfiguration")
	return r
}

// newWorkload picks the named container out of a workload's pod template.
func newWorkload(t *testing.T, kind string, meta metav1.ObjectMeta, tmpl *corev1.PodTemplateSpec, container string) *workload {
	t.Helper()
	w := &workload{kind: kind, name: meta.Name, namespace: meta.Namespace, labels: tmpl.Labels, pod: &tmpl.Spec}
	for i := range tmpl.Spec.Containers {
		if c := &tmpl.Spec.Containers[i]; c.Name == container {
			w.container = c
		}
	}
	if w.container == nil {
		t.Fatalf("%s %s has no container %q", kind, meta.Name, container)
	}
	w.args = parseArgs(t, meta.Namespace, w.container)
	w.containerPort = map[string]int32{}
	for _, p := range w.container.Ports {
		w.containerPort[p.Name] = p.ContainerPort
	}
	return w
}

// only converts the single object of kind in objs to T, failing when there
// is none or more than one.
func only[T any](t *testing.T, objs []*unstructured.Unstructured, kind string) *T {
	t.Helper()
	found := ofKind[T](t, objs, kind)
	if len(found) != 1 {
		t.Fatalf("%s: want exactly one %s, found %d", releaseManifest, kind, len(found))
	}
	return found[0]
}

// named converts the object of kind with this name in objs to T, failing
// when there is none.
func named[T any](t *testing.T, objs []*unstructured.Unstructured, kind, name string) *T {
	t.Helper()
	obj := testenv.Find[T](t, objs, kind, name)
	if obj == nil {
		t.Fatalf("%s: no %s named %s", releaseManifest, kind, name)
	}
	return obj
}

// ofKind converts every object of kind in objs to T.
func ofKind[T any](t *testing.T, objs []*unstructured.Unstructured, kind string) []*T {
	t.Helper()
	var out []*T
	for _, u := range objs {
		if u.GetKind() != kind {
			continue
		}
		obj := new(T)
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, obj, true); err != nil {
			t.Fatalf("%s %s: decode: %v", kind, u.GetName(), err)
		}
		out = append(out, obj)
	}
	return out
}

// parseArgs turns the container's "--name=value" arguments into a map,
// after expanding $(VAR) references the way the kubelet does, from the
// container's env (namespace is the pod's). A bare "--name" maps to "true".
func parseArgs(t *testing.T, namespace string, c *corev1.Container) map[string]string {
	t.Helper()
	var replacements []string
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			replacements = append(replacements, "$("+e.Name+")", e.Value)
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			replacements = append(replacements, "$("+e.Name+")", namespace)
		default:
			// Other sources cannot be resolved from the manifest; leave the
			// reference, which the check below reports if an arg uses it.
		}
	}
	expand := strings.NewReplacer(replacements...)
	args := map[string]string{}
	for _, arg := range c.Args {
		arg = expand.Replace(arg)
		if strings.Contains(arg, "$(") {
			t.Errorf("argument %q refers to a variable the manifest does not define", arg)
		}
		name, value, found := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if !strings.HasPrefix(arg, "-") {
			t.Errorf("argument %q is not a flag", arg)
			continue
		}
		if !found {
			value = "true"
		}
		if _, dup := args[name]; dup {
			t.Errorf("flag --%s is given twice", name)
		}
		args[name] = value
	}
	return args
}

// resolvePort returns the container port a Service's targetPort or a
// probe's port names.
func (w *workload) resolvePort(target intstr.IntOrString) (int32, bool) {
	if target.Type == intstr.Int {
		for _, p := range w.containerPort {
			if p == target.IntVal {
				return p, true
			}
		}
		return 0, false
	}
	p, ok := w.containerPort[target.StrVal]
	return p, ok
}
