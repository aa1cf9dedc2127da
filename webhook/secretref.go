package webhook

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/webhook/certs"
)

// checkSecretNamespace refuses a BgpPeer whose password Secret is outside
// Herald's namespace (ns; certs.DefaultNamespace when empty). The
// speakers run on every node, so their token is on every node: they may
// read Secrets in Herald's namespace only (a Role there, not a
// ClusterRole), and a reference elsewhere would leave the peer without its
// password at run time. A reference without a namespace means Herald's.
func checkSecretNamespace(p *v1alpha2.BgpPeer, ns string) field.ErrorList {
	if p.Spec.Conf == nil || p.Spec.Conf.AuthPasswordSecretRef == nil {
		return nil
	}
	if ns == "" {
		ns = certs.DefaultNamespace
	}
	ref := p.Spec.Conf.AuthPasswordSecretRef
	if ref.Namespace == "" || ref.Namespace == ns {
		return nil
	}
	key := ref.Key
	if key == "" {
		key = "password"
	}
	return field.ErrorList{field.Invalid(field.NewPath("spec", "conf", "authPasswordSecretRef", "namespace"), ref.Namespace,
		fmt.Sprintf("Herald's speakers read password Secrets in namespace %s only; create the Secret in namespace %s "+
			"(kubectl -n %s create secret generic %s --from-literal=%s=...) and set namespace: %s, or leave namespace out",
			ns, ns, ns, ref.Name, key, ns))}
}
