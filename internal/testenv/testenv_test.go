package testenv_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
)

func TestEnv(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	if u := env.APIServerURL(); u.Scheme != "https" || u.Hostname() != "127.0.0.1" {
		t.Errorf("APIServerURL() = %s, want https://127.0.0.1:<port>/", u)
	}

	before, err := env.MutatingRequests(ctx)
	if err != nil {
		t.Fatalf("MutatingRequests before: %v", err)
	}

	t.Run("Eip", func(t *testing.T) {
		eip := &v1alpha2.Eip{
			ObjectMeta: metav1.ObjectMeta{Name: "eip-pool"},
			Spec:       v1alpha2.EipSpec{Address: "192.0.2.0/24"},
		}
		if err := env.Client.Create(ctx, eip); err != nil {
			t.Fatalf("create Eip: %v", err)
		}
		var got v1alpha2.Eip
		if err := env.Client.Get(ctx, client.ObjectKey{Name: "eip-pool"}, &got); err != nil {
			t.Fatalf("get Eip: %v", err)
		}
		if diff := cmp.Diff(eip.Spec, got.Spec); diff != "" {
			t.Errorf("Eip spec read back (-want +got):\n%s", diff)
		}
	})

	t.Run("LoadBalancerService", func(t *testing.T) {
		svc := loadBalancer("web", nil)
		if err := env.Client.Create(ctx, svc); err != nil {
			t.Fatalf("create Service: %v", err)
		}
		var got corev1.Service
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(svc), &got); err != nil {
			t.Fatalf("get Service: %v", err)
		}
		if got.Spec.Type != corev1.ServiceTypeLoadBalancer {
			t.Errorf("Service type = %q, want LoadBalancer", got.Spec.Type)
		}
		// The ClusterIP comes from testenv's wide range, not envtest's /24.
		wide := netip.MustParsePrefix(testenv.ServiceCIDRv4)
		if ip, err := netip.ParseAddr(got.Spec.ClusterIP); err != nil || !wide.Contains(ip) {
			t.Errorf("ClusterIP = %q, want an address in %s", got.Spec.ClusterIP, wide)
		}
	})

	t.Run("BgpPeerCompatibility", func(t *testing.T) {
		// An OpenELB-era manifest: a 4-byte AS (above int32) and timers
		// written once as a string, once as an integer.
		const manifest = `
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpPeer
metadata:
  name: four-byte-as
spec:
  conf:
    neighborAddress: 192.0.2.1
    peerAs: 4200000000
  timers:
    config:
      holdTime: "90"
      keepaliveInterval: 30
`
		js, err := yaml.YAMLToJSON([]byte(manifest))
		if err != nil {
			t.Fatalf("YAML to JSON: %v", err)
		}
		var u unstructured.Unstructured
		if err := u.UnmarshalJSON(js); err != nil {
			t.Fatalf("decode manifest: %v", err)
		}
		if err := env.Client.Create(ctx, &u); err != nil {
			t.Fatalf("the API server refused an OpenELB BgpPeer: %v", err)
		}
		var got v1alpha2.BgpPeer
		if err := env.Client.Get(ctx, client.ObjectKey{Name: "four-byte-as"}, &got); err != nil {
			t.Fatalf("get BgpPeer: %v", err)
		}
		if got.Spec.Conf == nil || got.Spec.Conf.PeerAs != 4200000000 {
			t.Errorf("spec.conf = %+v, want peerAs 4200000000", got.Spec.Conf)
		}
		hold, keepalive := intstr.FromString("90"), intstr.FromInt32(30)
		want := &v1alpha2.TimersConfig{HoldTime: &hold, KeepaliveInterval: &keepalive}
		var gotTimers *v1alpha2.TimersConfig
		if got.Spec.Timers != nil {
			gotTimers = got.Spec.Timers.Config
		}
		if diff := cmp.Diff(want, gotTimers); diff != "" {
			t.Errorf("spec.timers.config (-want +got):\n%s", diff)
		}
	})

	t.Run("MutatingRequests", func(t *testing.T) {
		after, err := env.MutatingRequests(ctx)
		if err != nil {
			t.Fatalf("MutatingRequests after: %v", err)
		}
		for _, resource := range []string{"eips", "services", "bgppeers"} {
			if d := after[resource] - before[resource]; d < 1 {
				t.Errorf("writes to %s grew by %v, want at least the one create", resource, d)
			}
		}
	})
}

// TestEnvDualStack checks the options that reach kube-apiserver's flags.
func TestEnvDualStack(t *testing.T) {
	env := testenv.Start(t, testenv.Options{
		DualStack:      true,
		APIServerFlags: map[string][]string{"service-node-port-range": {"40000-40100"}},
	})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	policy := corev1.IPFamilyPolicyRequireDualStack
	svc := loadBalancer("dual", &policy)
	if err := env.Client.Create(ctx, svc); err != nil {
		t.Fatalf("create dual-stack Service: %v", err)
	}
	v6 := netip.MustParsePrefix(testenv.ServiceCIDRv6)
	var sawV6 bool
	for _, s := range svc.Spec.ClusterIPs {
		if ip, err := netip.ParseAddr(s); err == nil && v6.Contains(ip) {
			sawV6 = true
		}
	}
	if !sawV6 {
		t.Errorf("ClusterIPs = %v, want one in %s", svc.Spec.ClusterIPs, v6)
	}
	if p := svc.Spec.Ports[0].NodePort; p < 40000 || p > 40100 {
		t.Errorf("NodePort = %d, want one in the configured 40000-40100", p)
	}
}

// loadBalancer returns a one-port Service of type LoadBalancer in default.
func loadBalancer(name string, policy *corev1.IPFamilyPolicy) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: metav1.NamespaceDefault,
			Annotations: map[string]string{
				"lb.kubesphere.io/v1alpha1":          "openelb",
				"eip.openelb.kubesphere.io/v1alpha2": "eip-pool",
			},
		},
		Spec: corev1.ServiceSpec{
			Type:           corev1.ServiceTypeLoadBalancer,
			IPFamilyPolicy: policy,
			Selector:       map[string]string{"app": name},
			Ports: []corev1.ServicePort{{
				Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080),
			}},
		},
	}
}
