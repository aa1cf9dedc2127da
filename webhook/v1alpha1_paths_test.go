package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/internal/testenv"
)

// TestV1alpha1RefusalsNameV1alpha1Fields writes bad objects through
// v1alpha1, as `kubectl apply` of an old manifest does: the refusal (the
// 422's causes and its message) and the warnings name the fields as the
// manifest spells them, and never their v1alpha2 names. The same mistake
// through v1alpha2 keeps the v1alpha2 names.
func TestV1alpha1RefusalsNameV1alpha1Fields(t *testing.T) {
	ctx := context.Background()
	c, warnings := userClient(t)
	for _, tc := range []struct {
		name     string
		manifest string
		want     []string // field paths of the causes, in the message too
		words    []string // in the message
		not      []string // nowhere in the message
	}{
		{
			name: "bad neighbour", manifest: `
apiVersion: network.kubesphere.io/v1alpha1
kind: BgpPeer
metadata: {name: v1alpha1-bad-neighbor}
spec: {config: {peerAs: 65001, neighborAddress: router.example}}`,
			want: []string{"spec.config.neighborAddress"}, not: []string{"spec.conf."},
		},
		{
			name: "no peer AS", manifest: `
apiVersion: network.kubesphere.io/v1alpha1
kind: BgpPeer
metadata: {name: v1alpha1-no-peeras}
spec: {config: {neighborAddress: 172.30.0.9}}`,
			want: []string{"spec.config.peerAs"}, not: []string{"spec.conf."},
		},
		{
			name: "no config", manifest: `
apiVersion: network.kubesphere.io/v1alpha1
kind: BgpPeer
metadata: {name: v1alpha1-no-config}
spec: {transport: {passiveMode: true}}`,
			want: []string{"spec.config"}, words: []string{"config.neighborAddress", "config.peerAs"}, not: []string{"spec.conf:", " conf."},
		},
		{
			name: "same mistake through v1alpha2", manifest: `
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpPeer
metadata: {name: v1alpha2-bad-neighbor}
spec: {conf: {peerAs: 65001, neighborAddress: router.example}}`,
			want: []string{"spec.conf.neighborAddress"}, not: []string{"spec.config."},
		},
		{
			name: "bad port", manifest: `
apiVersion: network.kubesphere.io/v1alpha1
kind: BgpConf
metadata: {name: default}
spec: {as: 65001, port: -1}`,
			want: []string{"spec.port"}, words: []string{"17900"}, not: []string{"listenPort"},
		},
		{
			name: "IPv6 router ID", manifest: `
apiVersion: network.kubesphere.io/v1alpha1
kind: BgpConf
metadata: {name: default}
spec: {as: 65001, routerID: "2001:db8::1"}`,
			want: []string{"spec.routerID"}, not: []string{"routerId"},
		},
		{
			name: "layer2 pool without interface", manifest: `
apiVersion: network.kubesphere.io/v1alpha1
kind: Eip
metadata: {name: v1alpha1-layer2}
spec: {address: 10.74.0.0/28, protocol: layer2}`,
			want: []string{"spec.interface"}, words: []string{"v1alpha1 has no such field", "network.kubesphere.io/v1alpha2-fields"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Create(ctx, manifest(t, tc.manifest), client.DryRunAll)
			var status apierrors.APIStatus
			if !apierrors.IsInvalid(err) || !errors.As(err, &status) || status.Status().Details == nil {
				t.Fatalf("got %v, want a 422 with causes", err)
			}
			var fields []string
			for _, cause := range status.Status().Details.Causes {
				fields = append(fields, cause.Field)
			}
			msg := err.Error()
			for _, f := range tc.want {
				if !slices.Contains(fields, f) || !strings.Contains(msg, f+":") {
					t.Errorf("refusal names fields %v and says:\n%s\nwant %s in both", fields, msg, f)
				}
			}
			for _, w := range tc.words {
				if !strings.Contains(msg, w) {
					t.Errorf("refusal says:\n%s\nwant it to contain %q", msg, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(msg, n) {
					t.Errorf("refusal says:\n%s\nwhich contains %q, a name the manifest does not use", msg, n)
				}
			}
		})
	}

	// Advice, too, uses the client's names.
	warnings.take()
	conf := manifest(t, `
apiVersion: network.kubesphere.io/v1alpha1
kind: BgpConf
metadata: {name: default}
spec: {as: 65001, routerID: 172.22.0.10, port: 17900}`)
	if err := c.Create(ctx, conf, client.DryRunAll); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(warnings.take(), "\n")
	if !strings.Contains(got, "spec.routerID: every node will use 172.22.0.10") || strings.Contains(got, "routerId") {
		t.Errorf("warnings:\n%s\nwant the router ID warning in v1alpha1's words (routerID)", got)
	}
}

// TestKubectlV1alpha1Output is what a user applying an old OpenELB
// manifest sees from kubectl itself.
func TestKubectlV1alpha1Output(t *testing.T) {
	kubectl, err := testenv.AssetPath("kubectl")
	if err != nil {
		t.Skipf("no kubectl to run (%v); `make control-plane` builds it", err)
	}
	cmd := exec.Command(kubectl, "--kubeconfig", writeKubeconfig(t), "apply", "--dry-run=server", "-f", "-")
	cmd.Stdin = strings.NewReader(`
apiVersion: network.kubesphere.io/v1alpha1
kind: BgpPeer
metadata: {name: openelb-sample}
spec: {config: {peerAs: 50001, neighborAddress: 172.22.0.300}, usingPortForward: true}`)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err == nil {
		t.Fatalf("kubectl apply of a bad v1alpha1 BgpPeer succeeded:\n%s", out.String())
	}
	t.Logf("kubectl apply of a bad v1alpha1 BgpPeer:\n%s", out.String())
	const want = `The BgpPeer "openelb-sample" is invalid: spec.config.neighborAddress: Invalid value: "172.22.0.300": `
	if !strings.Contains(out.String(), want) {
		t.Errorf("kubectl printed:\n%s\nwant it to contain:\n%s", out.String(), want)
	}
}
