package controllers

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kubeadmConfig is kube-proxy's config.conf as kubeadm writes it (v1.3x),
// with the mode and strictARP lines replaced.
func kubeadmConfig(mode, strictARP string) string {
	return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
bindAddress: 0.0.0.0
bindAddressHardFail: false
clientConnection:
  acceptContentTypes: ""
  burst: 0
  contentType: ""
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
  qps: 0
clusterCIDR: 10.244.0.0/16
configSyncPeriod: 0s
conntrack:
  maxPerCore: null
  min: null
  tcpCloseWaitTimeout: null
  tcpEstablishedTimeout: null
detectLocal:
  bridgeInterface: ""
  interfaceNamePrefix: ""
detectLocalMode: ""
enableProfiling: false
healthzBindAddress: ""
hostnameOverride: ""
iptables:
  localhostNodePorts: null
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 0s
  syncPeriod: 0s
ipvs:
  excludeCIDRs: null
  minSyncPeriod: 0s
  scheduler: ""
  strictARP: ` + strictARP + `
  syncPeriod: 0s
  tcpFinTimeout: 0s
  tcpTimeout: 0s
  udpTimeout: 0s
kind: KubeProxyConfiguration
logging:
  flushFrequency: 0
  options:
    json:
      infoBufferSize: "0"
  verbosity: 0
metricsBindAddress: ""
mode: ` + mode + `
nftables:
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 0s
  syncPeriod: 0s
nodePortAddresses: null
oomScoreAdj: null
portRange: ""
showHiddenMetricsForVersion: ""
winkernel:
  enableDSR: false
  forwardHealthCheckVip: false
  networkName: ""
  rootHnsEndpointName: ""
  sourceVip: ""
`
}

func TestJudgeKubeProxy(t *testing.T) {
	const head = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
	type verdict struct {
		Status metav1.ConditionStatus
		Reason string
		Mode   string
		// Says is a piece of the message (or, when unreadable, the error).
		Says string
	}
	for _, tc := range []struct {
		name string
		data map[string]string // nil: no ConfigMap at all
		want verdict
	}{
		{"no configmap", nil, verdict{"Unknown", ReasonNoKubeProxyConfig, "", "no ConfigMap kube-system/kube-proxy"}},
		{"kubeadm ipvs without strictARP", map[string]string{"config.conf": kubeadmConfig("ipvs", "false")},
			verdict{"False", ReasonStrictARPDisabled, "ipvs", "Fix: " + StrictARPFix}},
		{"kubeadm ipvs with strictARP", map[string]string{"config.conf": kubeadmConfig("ipvs", "true")},
			verdict{"True", ReasonStrictARPEnabled, "ipvs", "with strictARP"}},
		{"kubeadm default mode is iptables", map[string]string{"config.conf": kubeadmConfig(`""`, "false")},
			verdict{"True", ReasonNotIPVS, "iptables", "runs in iptables mode"}},
		{"nftables", map[string]string{"config.conf": head + "mode: nftables\n"},
			verdict{"True", ReasonNotIPVS, "nftables", "runs in nftables mode"}},
		{"iptables, strictARP irrelevant", map[string]string{"config.conf": head + "mode: iptables\nipvs:\n  strictARP: false\n"},
			verdict{"True", ReasonNotIPVS, "iptables", ""}},
		{"mode without the ipvs section", map[string]string{"config.conf": head + "mode: ipvs\n"},
			verdict{"False", ReasonStrictARPDisabled, "ipvs", ""}},
		{"mode in capitals", map[string]string{"config.conf": head + "mode: IPVS\nipvs: {strictARP: true}\n"},
			verdict{"True", ReasonStrictARPEnabled, "ipvs", ""}},
		{"unknown fields tolerated", map[string]string{"config.conf": head + "mode: ipvs\nfromTheFuture: {a: [1, 2]}\nipvs:\n  strictARP: true\n  newKnob: 3\n"},
			verdict{"True", ReasonStrictARPEnabled, "ipvs", ""}},
		{"JSON is YAML too", map[string]string{"config.conf": `{"kind":"KubeProxyConfiguration","mode":"ipvs","ipvs":{"strictARP":true}}`},
			verdict{"True", ReasonStrictARPEnabled, "ipvs", ""}},
		{"garbage", map[string]string{"config.conf": "mode: [ipvs\n\tstrictARP"},
			verdict{"Unknown", ReasonKubeProxyConfigUnreadable, "", "key config.conf: "}},
		{"a scalar", map[string]string{"config.conf": "just some text"},
			verdict{"Unknown", ReasonKubeProxyConfigUnreadable, "", "key config.conf: "}},
		{"strictARP not a bool", map[string]string{"config.conf": head + "mode: ipvs\nipvs:\n  strictARP: sometimes\n"},
			verdict{"Unknown", ReasonKubeProxyConfigUnreadable, "", "strictARP"}},
		{"another kind", map[string]string{"config.conf": "apiVersion: v1\nkind: Pod\nmode: ipvs\n"},
			verdict{"Unknown", ReasonKubeProxyConfigUnreadable, "", `kind is "Pod", want KubeProxyConfiguration`}},
		{"empty", map[string]string{"config.conf": ""},
			verdict{"Unknown", ReasonKubeProxyConfigUnreadable, "", `kind is ""`}},
		{"no config.conf key", map[string]string{"kubeconfig.conf": "apiVersion: v1\nkind: Config\n"},
			verdict{"Unknown", ReasonKubeProxyConfigUnreadable, "", "no key config.conf"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cm *corev1.ConfigMap
			if tc.data != nil {
				cm = &corev1.ConfigMap{Data: tc.data}
			}
			v := judgeKubeProxy(cm)
			got := verdict{v.status, v.reason, v.mode, tc.want.Says}
			text := v.message
			if v.err != nil {
				text = v.err.Error()
				if !strings.Contains(v.message, text) {
					t.Errorf("message %q does not quote the error %q", v.message, text)
				}
			}
			if !strings.Contains(text, tc.want.Says) {
				got.Says = text
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("verdict (-want +got):\n%s", diff)
			}
			if (v.reason == ReasonKubeProxyConfigUnreadable) != (v.err != nil) {
				t.Errorf("reason %s with error %v", v.reason, v.err)
			}
		})
	}
}

// TestKubeProxyConditionIPv6: IPVS without strictARP harms IPv4 pools only.
func TestKubeProxyConditionIPv6(t *testing.T) {
	disabled := judgeKubeProxy(&corev1.ConfigMap{Data: map[string]string{"config.conf": kubeadmConfig("ipvs", "false")}})
	unknown := judgeKubeProxy(nil)
	for _, tc := range []struct {
		name   string
		v      kubeProxyVerdict
		v6     bool
		status metav1.ConditionStatus
		reason string
	}{
		{"v4 pool, strictARP off", disabled, false, "False", ReasonStrictARPDisabled},
		{"v6 pool, strictARP off", disabled, true, "True", ReasonIPv6Pool},
		{"v6 pool, no config", unknown, true, "Unknown", ReasonNoKubeProxyConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := kubeProxyCondition(tc.v, tc.v6, 7)
			if c.Status != tc.status || c.Reason != tc.reason || c.ObservedGeneration != 7 || c.Message == "" {
				t.Errorf("condition = %+v, want %s/%s at generation 7", c, tc.status, tc.reason)
			}
		})
	}
}
