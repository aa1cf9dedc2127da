package controllers

import (
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// Where kubeadm keeps kube-proxy's configuration: a KubeProxyConfiguration
// in one key of one ConfigMap. Clusters installed otherwise may have none.
const (
	KubeProxyNamespace = "kube-system"
	KubeProxyConfigMap = "kube-proxy"
	kubeProxyConfigKey = "config.conf"
)

// Reasons of the KubeProxyCompatible condition of layer2 and vip Eips.
const (
	// ReasonNotIPVS: kube-proxy runs in iptables or nftables mode, which
	// puts no Service address on a node's interfaces.
	ReasonNotIPVS = "NotIPVS"
	// ReasonStrictARPEnabled: IPVS mode with strictARP, so nodes do not
	// answer ARP for the addresses on kube-ipvs0.
	ReasonStrictARPEnabled = "StrictARPEnabled"
	// ReasonStrictARPDisabled: IPVS mode without strictARP; every node
	// answers ARP for the pool's IPv4 addresses.
	ReasonStrictARPDisabled = "StrictARPDisabled"
	// ReasonIPv6Pool: IPVS mode without strictARP, harmless to an IPv6
	// pool: Linux answers NDP only for addresses of the interface the
	// solicitation arrives on, and kube-ipvs0 receives none.
	ReasonIPv6Pool = "IPv6Pool"
	// ReasonNoKubeProxyConfig: there is no kube-system/kube-proxy
	// ConfigMap to read.
	ReasonNoKubeProxyConfig = "NoKubeProxyConfig"
	// ReasonKubeProxyConfigUnreadable: the ConfigMap holds no
	// KubeProxyConfiguration Herald can parse.
	ReasonKubeProxyConfigUnreadable = "KubeProxyConfigUnreadable"
)

// StrictARPFix is what the operator runs, quoted in the condition, the
// event and the log line.
const StrictARPFix = "kubectl -n kube-system edit configmap kube-proxy: set ipvs.strictARP: true, then restart the kube-proxy pods"

// errStrictARPDisabled is logged, once, when kube-proxy's configuration
// turns out to defeat layer2 mode.
var errStrictARPDisabled = errors.New("kube-proxy runs in IPVS mode without strictARP")

// kubeProxyConfig is the part of a KubeProxyConfiguration Herald reads;
// every other field is ignored.
type kubeProxyConfig struct {
	Kind string `json:"kind"`
	Mode string `json:"mode"`
	IPVS struct {
		StrictARP bool `json:"strictARP"`
	} `json:"ipvs"`
}

// parseKubeProxyConfig reads a KubeProxyConfiguration. The mode comes back
// lower-case, and an empty one as "iptables", kube-proxy's default on
// Linux. kube-proxy itself refuses a file without the kind, so Herald does
// too: a YAML document of something else says nothing about kube-proxy.
func parseKubeProxyConfig(text string) (kubeProxyConfig, error) {
	var c kubeProxyConfig
	if err := yaml.Unmarshal([]byte(text), &c); err != nil {
		return kubeProxyConfig{}, err
	}
	if c.Kind != "KubeProxyConfiguration" {
		return kubeProxyConfig{}, fmt.Errorf("kind is %q, want KubeProxyConfiguration", c.Kind)
	}
	c.Mode = strings.ToLower(strings.TrimSpace(c.Mode))
	if c.Mode == "" {
		c.Mode = "iptables"
	}
	return c, nil
}

// kubeProxyVerdict is what kube-proxy's configuration means for layer2
// mode, before an Eip's address family is considered.
type kubeProxyVerdict struct {
	status  metav1.ConditionStatus
	reason  string
	message string
	mode    string
	// err says why the configuration is unreadable.
	err error
}

// judgeKubeProxy reads kube-proxy's ConfigMap; cm is nil when there is
// none.
func judgeKubeProxy(cm *corev1.ConfigMap) kubeProxyVerdict {
	const source = "ConfigMap " + KubeProxyNamespace + "/" + KubeProxyConfigMap
	const ifIPVS = "if kube-proxy runs in IPVS mode, it needs ipvs.strictARP: true, or every node answers ARP for this pool's IPv4 addresses"
	if cm == nil {
		return kubeProxyVerdict{
			status: metav1.ConditionUnknown, reason: ReasonNoKubeProxyConfig,
			message: "no " + source + " (kube-proxy was not installed by kubeadm, or is replaced): cannot tell how kube-proxy runs; " + ifIPVS,
		}
	}
	text, ok := cm.Data[kubeProxyConfigKey]
	var c kubeProxyConfig
	var err error
	if !ok {
		err = fmt.Errorf("no key %s", kubeProxyConfigKey)
	} else if c, err = parseKubeProxyConfig(text); err != nil {
		err = fmt.Errorf("key %s: %w", kubeProxyConfigKey, err)
	}
	if err != nil {
		return kubeProxyVerdict{
			status: metav1.ConditionUnknown, reason: ReasonKubeProxyConfigUnreadable, err: err,
			message: fmt.Sprintf("cannot read kube-proxy's configuration in %s: %v; %s", source, err, ifIPVS),
		}
	}
	v := kubeProxyVerdict{status: metav1.ConditionTrue, mode: c.Mode}
	switch {
	case c.Mode != "ipvs":
		v.reason = ReasonNotIPVS
		v.message = fmt.Sprintf("kube-proxy runs in %s mode, which puts no Service address on a node's interfaces: only the node holding an address answers ARP/NDP for it", c.Mode)
	case c.IPVS.StrictARP:
		v.reason = ReasonStrictARPEnabled
		v.message = "kube-proxy runs in IPVS mode with strictARP: nodes do not answer ARP for the addresses on kube-ipvs0, only the node holding an address does"
	default:
		v.status, v.reason = metav1.ConditionFalse, ReasonStrictARPDisabled
		v.message = "kube-proxy runs in IPVS mode without strictARP: every node answers ARP for this pool's addresses, not only the one holding it. Fix: " + StrictARPFix
	}
	return v
}

// kubeProxyCondition is the KubeProxyCompatible condition of one layer2
// Eip. An IPv6 pool is not harmed by IPVS without strictARP (strictARP is
// about ARP, and Linux answers NDP only for the receiving interface's
// addresses); a pool whose address does not parse is judged as IPv4.
func kubeProxyCondition(v kubeProxyVerdict, v6 bool, generation int64) metav1.Condition {
	c := metav1.Condition{
		Type: v1alpha2.ConditionKubeProxyCompatible, Status: v.status, Reason: v.reason, Message: v.message,
		ObservedGeneration: generation,
	}
	if v.reason == ReasonStrictARPDisabled && v6 {
		c.Status, c.Reason = metav1.ConditionTrue, ReasonIPv6Pool
		c.Message = "kube-proxy runs in IPVS mode without strictARP, which matters to IPv4 pools only: Linux answers NDP only for addresses of the interface a solicitation arrives on, and kube-proxy puts them on kube-ipvs0"
	}
	return c
}
