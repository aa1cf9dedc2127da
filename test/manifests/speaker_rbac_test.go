package manifests_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// generatedSpeakerRole is the ClusterRole controller-gen derives from the
// +kubebuilder:rbac markers of the packages linked into herald-speaker.
const generatedSpeakerRole = "config/speaker/role.yaml"

// speakerRole is the name the release gives that ClusterRole.
const speakerRole = "herald-speaker"

// readVerbs only read.
var readVerbs = sets.New("get", "list", "watch")

// speakerWrites are the only writes the speaker may make. Widening this
// list widens what a compromised node can do to the whole cluster; say why
// next to the entry.
var speakerWrites = sets.New(
	// Each node merges its own entry into BGP status.
	need{"", "network.kubesphere.io", "bgppeers/status", "patch", ""},
	need{"", "network.kubesphere.io", "bgpconfs/status", "patch", ""},
	// Layer2: the node that answers for a Service's address records it in
	// the Service's layer2.openelb.kubesphere.io/v1alpha1 annotation, as
	// OpenELB's speaker does, with an event. RBAC cannot narrow a patch to
	// one annotation; the release's ValidatingAdmissionPolicy refuses any
	// other change (TestServiceAccountsAgainstAPIServer).
	need{"", "", "services", "patch", ""},
	need{"", "events.k8s.io", "events", "create", ""},
	need{"", "events.k8s.io", "events", "patch", ""},
	// Layer2: each speaker renews its own Lease in its namespace
	// (leaderelection gets, creates and updates it). Namespaced below;
	// cluster-wide is refused.
	need{speakerNamespace, "coordination.k8s.io", "leases", "create", ""},
	need{speakerNamespace, "coordination.k8s.io", "leases", "update", ""},
)

// speakerNamespace is where the release runs the speakers, and where
// their Leases and the BgpPeer password Secrets are.
const speakerNamespace = "herald-system"

// TestSpeakerHoldsGeneratedRole: the speaker's ServiceAccount must be bound
// to the ClusterRole herald-speaker, and hold every rule of the generated
// role cluster-wide.
func TestSpeakerHoldsGeneratedRole(t *testing.T) {
	r := loadRelease(t)
	ns, sa := serviceAccount(t, r, r.speaker)
	bound := false
	for _, b := range ofKind[rbacv1.ClusterRoleBinding](t, r.objs, "ClusterRoleBinding") {
		bound = bound || (b.RoleRef.Kind == "ClusterRole" && b.RoleRef.Name == speakerRole &&
			slices.ContainsFunc(b.Subjects, func(s rbacv1.Subject) bool {
				return s.Kind == rbacv1.ServiceAccountKind && s.Name == sa && s.Namespace == ns
			}))
	}
	if !bound {
		t.Errorf("no ClusterRoleBinding binds ClusterRole %s to ServiceAccount %s/%s", speakerRole, ns, sa)
	}

	generated := repoFile(t, generatedSpeakerRole)
	for _, u := range generated {
		if k := u.GetKind(); k != "ClusterRole" && k != "Role" {
			t.Errorf("%s holds a %s %s; bind it in config/speaker and check it here", generatedSpeakerRole, k, u.GetName())
		}
	}
	var needs []need
	for _, cr := range ofKind[rbacv1.ClusterRole](t, generated, "ClusterRole") {
		needs = append(needs, needsOf("", cr.Rules)...)
	}
	for _, role := range ofKind[rbacv1.Role](t, generated, "Role") {
		needs = append(needs, needsOf(role.Namespace, role.Rules)...)
	}
	if len(needs) == 0 {
		t.Fatalf("%s grants nothing", generatedSpeakerRole)
	}
	checkAllowed(t, boundTo(t, r, ns, sa), ns, sa, needs)
}

// TestSpeakerRoleIsLeastPrivilege: a speaker runs on every node, so its
// token is on every node. What it is granted must be what its markers ask
// for and nothing else: no wildcards, reads except for its own BGP status,
// no listing of Secrets, and none of the writes the controller makes.
func TestSpeakerRoleIsLeastPrivilege(t *testing.T) {
	r := loadRelease(t)
	ns, sa := serviceAccount(t, r, r.speaker)
	grants := boundTo(t, r, ns, sa)
	if len(grants) == 0 {
		t.Fatalf("ServiceAccount %s/%s is bound to nothing", ns, sa)
	}

	asked := sets.New[need]()
	for _, cr := range ofKind[rbacv1.ClusterRole](t, repoFile(t, generatedSpeakerRole), "ClusterRole") {
		asked.Insert(needsOf("", cr.Rules)...)
	}
	for _, role := range ofKind[rbacv1.Role](t, repoFile(t, generatedSpeakerRole), "Role") {
		asked.Insert(needsOf(role.Namespace, role.Rules)...)
	}
	for _, g := range grants {
		for _, rule := range g.rules {
			if len(rule.NonResourceURLs) > 0 {
				t.Errorf("speaker is granted non-resource URLs %v", rule.NonResourceURLs)
			}
			if slices.Contains(rule.APIGroups, rbacv1.APIGroupAll) || slices.Contains(rule.Resources, rbacv1.ResourceAll) ||
				slices.Contains(rule.Verbs, rbacv1.VerbAll) {
				t.Errorf("speaker is granted a wildcard rule %+v", rule)
			}
		}
		for _, n := range needsOf(g.namespace, g.rules) {
			cluster := n
			cluster.namespace = ""
			switch {
			case !asked.Has(n) && !asked.Has(cluster):
				t.Errorf("speaker may %s, which no marker of herald-speaker's packages asks for", n)
			case !readVerbs.Has(n.verb) && !speakerWrites.Has(n):
				t.Errorf("speaker may %s: it writes nothing but its BGP status, Layer2 owner annotations and events, and its own Lease", n)
			case n.group == "" && n.resource == "secrets" && (n.verb != "get" || n.namespace != speakerNamespace):
				t.Errorf("speaker may %s: it gets the Secrets BgpPeers name, in Herald's namespace only, and must not read every Secret", n)
			}
		}
	}

	// Spelled out, whatever the markers say: nothing the controller alone
	// writes (Service status, Eips, events, webhook configurations, its
	// certificate Secret).
	generated := repoFile(t, generatedRole)
	var controllerWrites []need
	for _, cr := range ofKind[rbacv1.ClusterRole](t, generated, "ClusterRole") {
		controllerWrites = append(controllerWrites, needsOf("", cr.Rules)...)
	}
	for _, role := range ofKind[rbacv1.Role](t, generated, "Role") {
		controllerWrites = append(controllerWrites, needsOf(r.controller.args["webhook-secret-namespace"], role.Rules)...)
	}
	controllerWrites = append(controllerWrites,
		need{"", "", "services/status", "update", ""}, need{"", "", "services/status", "patch", ""},
		need{"", "", "services", "update", ""}, need{"", "", "services", "patch", ""})
	seen := sets.New[need]()
	for _, n := range controllerWrites {
		if seen.Has(n) {
			continue
		}
		seen.Insert(n)
		if !readVerbs.Has(n.verb) && !speakerWrites.Has(n) && allowed(grants, n) {
			t.Errorf("speaker may %s, which only the controller does", n)
		}
	}
}

// TestServicePolicyNamesSpeaker: the admission policy that keeps the
// speaker to the owner annotation matches the speaker by its username,
// spelled out in config/speaker/service_policy.yaml; it must be the
// ServiceAccount the release runs the speaker as, or the policy binds
// nobody.
func TestServicePolicyNamesSpeaker(t *testing.T) {
	r := loadRelease(t)
	ns, sa := serviceAccount(t, r, r.speaker)
	want := fmt.Sprintf("request.userInfo.username == %q", "system:serviceaccount:"+ns+":"+sa)
	policies := ofKind[admissionregistrationv1.ValidatingAdmissionPolicy](t, r.objs, "ValidatingAdmissionPolicy")
	bindings := ofKind[admissionregistrationv1.ValidatingAdmissionPolicyBinding](t, r.objs, "ValidatingAdmissionPolicyBinding")
	for _, p := range policies {
		if !slices.ContainsFunc(p.Spec.MatchConditions, func(c admissionregistrationv1.MatchCondition) bool {
			return strings.TrimSpace(c.Expression) == want
		}) {
			continue
		}
		if !slices.ContainsFunc(bindings, func(b *admissionregistrationv1.ValidatingAdmissionPolicyBinding) bool {
			return b.Spec.PolicyName == p.Name && slices.Contains(b.Spec.ValidationActions, admissionregistrationv1.Deny)
		}) {
			t.Errorf("ValidatingAdmissionPolicy %s is not bound with validationActions [Deny]", p.Name)
		}
		return
	}
	t.Errorf("no ValidatingAdmissionPolicy in %s has the match condition %s", releaseManifest, want)
}
