package manifests_test

import (
	"fmt"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/herald-lb/herald/controllers"
	"github.com/herald-lb/herald/webhook/certs"
)

// generatedRole is what controller-gen derives from the +kubebuilder:rbac
// markers: the permissions the code says it needs.
const generatedRole = "config/rbac/role.yaml"

// grant is a set of rules bound to the ServiceAccount, valid in one
// namespace, or everywhere (cluster-scoped resources included) when
// namespace is empty.
type grant struct {
	namespace string
	rules     []rbacv1.PolicyRule
}

// need is one permission: a verb on a resource, in a namespace or, when
// namespace is empty, cluster-wide; on the object called name only, when
// name is set (a rule with resourceNames).
type need struct {
	namespace, group, resource, verb string
	name                             string
}

// TestServiceAccountHoldsGeneratedRole: every rule of the generated
// ClusterRole must be granted to the controller's ServiceAccount
// cluster-wide, every rule of the generated Roles in the namespace where
// the controller keeps its certificate Secret or, for kube-proxy's
// ConfigMap, in kube-system, and leader election's Leases and events in
// the controller's own namespace.
func TestServiceAccountHoldsGeneratedRole(t *testing.T) {
	r := loadRelease(t)
	ns, sa := serviceAccount(t, r, r.controller)
	grants := boundTo(t, r, ns, sa)

	var needs []need
	generated := repoFile(t, generatedRole)
	for _, cr := range ofKind[rbacv1.ClusterRole](t, generated, "ClusterRole") {
		needs = append(needs, needsOf("", cr.Rules)...)
	}
	// Each generated Role holds in its own namespace, but the one for the
	// certificate Secret (its marker names the default namespace) must
	// hold where the controller is told the Secret lives.
	secretNS := r.controller.args["webhook-secret-namespace"]
	for _, role := range ofKind[rbacv1.Role](t, generated, "Role") {
		ns := role.Namespace
		if ns == certs.DefaultNamespace {
			ns = secretNS
		}
		needs = append(needs, needsOf(ns, role.Rules)...)
	}
	if len(needs) == 0 {
		t.Fatalf("%s grants nothing", generatedRole)
	}
	// The controller reads kube-proxy's ConfigMap through an informer.
	for _, v := range []string{"get", "list", "watch"} {
		needs = append(needs, need{controllers.KubeProxyNamespace, "", "configmaps", v, ""})
	}
	for _, v := range []string{"get", "list", "watch", "create", "update", "patch", "delete"} {
		needs = append(needs, need{ns, "coordination.k8s.io", "leases", v, ""})
	}
	needs = append(needs, need{ns, "", "events", "create", ""}, need{ns, "events.k8s.io", "events", "create", ""})
	checkAllowed(t, grants, ns, sa, needs)
}

// serviceAccount returns the workload's ServiceAccount, which must be its
// own and be in the release, in the workload's namespace.
func serviceAccount(t *testing.T, r *release, w *workload) (ns, sa string) {
	t.Helper()
	ns, sa = w.namespace, w.pod.ServiceAccountName
	if sa == "" || sa == "default" {
		t.Fatalf("%s %s runs as ServiceAccount %q; want its own", w.kind, w.name, sa)
	}
	found := false
	for _, u := range r.objs {
		found = found || (u.GetKind() == "ServiceAccount" && u.GetName() == sa && u.GetNamespace() == ns)
	}
	if !found {
		t.Errorf("ServiceAccount %s/%s of %s %s is not in %s", ns, sa, w.kind, w.name, releaseManifest)
	}
	return ns, sa
}

// needsOf expands rules into single permissions, valid in namespace (or
// cluster-wide when it is empty), one per resource name of a rule that
// lists some.
func needsOf(namespace string, rules []rbacv1.PolicyRule) []need {
	var needs []need
	for _, rule := range rules {
		names := rule.ResourceNames
		if len(names) == 0 {
			names = []string{""}
		}
		for _, g := range rule.APIGroups {
			for _, res := range rule.Resources {
				for _, v := range rule.Verbs {
					for _, name := range names {
						needs = append(needs, need{namespace, g, res, v, name})
					}
				}
			}
		}
	}
	return needs
}

// checkAllowed fails for every need the grants of ServiceAccount ns/sa
// do not cover.
func checkAllowed(t *testing.T, grants []grant, ns, sa string, needs []need) {
	t.Helper()
	for _, n := range needs {
		if !allowed(grants, n) {
			t.Errorf("ServiceAccount %s/%s may not %s", ns, sa, n)
		}
	}
}

// String says what n permits, e.g. `get secrets (group "") cluster-wide`.
func (n need) String() string {
	where := "cluster-wide"
	if n.namespace != "" {
		where = "in namespace " + n.namespace
	}
	what := n.resource
	if n.name != "" {
		what += " " + n.name
	}
	return fmt.Sprintf("%s %s (group %q) %s", n.verb, what, n.group, where)
}

// boundTo collects the rules the release binds to the ServiceAccount.
func boundTo(t *testing.T, r *release, ns, sa string) []grant {
	t.Helper()
	clusterRoles := map[string][]rbacv1.PolicyRule{}
	for _, cr := range ofKind[rbacv1.ClusterRole](t, r.objs, "ClusterRole") {
		clusterRoles[cr.Name] = cr.Rules
	}
	roles := map[[2]string][]rbacv1.PolicyRule{}
	for _, role := range ofKind[rbacv1.Role](t, r.objs, "Role") {
		roles[[2]string{role.Namespace, role.Name}] = role.Rules
	}
	isSubject := func(subjects []rbacv1.Subject) bool {
		return slices.ContainsFunc(subjects, func(s rbacv1.Subject) bool {
			return s.Kind == rbacv1.ServiceAccountKind && s.Name == sa && s.Namespace == ns
		})
	}

	var grants []grant
	for _, b := range ofKind[rbacv1.ClusterRoleBinding](t, r.objs, "ClusterRoleBinding") {
		if !isSubject(b.Subjects) {
			continue
		}
		rules, ok := clusterRoles[b.RoleRef.Name]
		if b.RoleRef.Kind != "ClusterRole" || !ok {
			t.Errorf("ClusterRoleBinding %s refers to %s %s, which %s does not hold", b.Name, b.RoleRef.Kind, b.RoleRef.Name, releaseManifest)
		}
		grants = append(grants, grant{"", rules})
	}
	for _, b := range ofKind[rbacv1.RoleBinding](t, r.objs, "RoleBinding") {
		if !isSubject(b.Subjects) {
			continue
		}
		var rules []rbacv1.PolicyRule
		var ok bool
		switch b.RoleRef.Kind {
		case "ClusterRole":
			rules, ok = clusterRoles[b.RoleRef.Name]
		case "Role":
			rules, ok = roles[[2]string{b.Namespace, b.RoleRef.Name}]
		}
		if !ok {
			t.Errorf("RoleBinding %s/%s refers to %s %s, which %s does not hold in that namespace",
				b.Namespace, b.Name, b.RoleRef.Kind, b.RoleRef.Name, releaseManifest)
		}
		grants = append(grants, grant{b.Namespace, rules})
	}
	return grants
}

// allowed reports whether a grant covers n. A rule restricted to resource
// names covers only needs for one of those names: a need without a name is
// for every object of the resource, which such a rule does not grant.
func allowed(grants []grant, n need) bool {
	match := func(list []string, v string) bool {
		return slices.Contains(list, v) || slices.Contains(list, rbacv1.ResourceAll)
	}
	for _, g := range grants {
		if g.namespace != "" && g.namespace != n.namespace {
			continue
		}
		for _, rule := range g.rules {
			named := len(rule.ResourceNames) == 0 || (n.name != "" && slices.Contains(rule.ResourceNames, n.name))
			if named && match(rule.APIGroups, n.group) &&
				match(rule.Resources, n.resource) && match(rule.Verbs, n.verb) {
				return true
			}
		}
	}
	return false
}
