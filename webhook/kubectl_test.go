package webhook_test

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/herald-lb/herald/internal/testenv"
)

// TestKubectlOutput checks the words a user actually sees: kubectl's
// rendering of a refusal and of a warning.
func TestKubectlOutput(t *testing.T) {
	run := kubectl(t)

	out, err := run(`
apiVersion: network.kubesphere.io/v1alpha2
kind: Eip
metadata: {name: kubectl-bad}
spec: {address: 192.168.0.91-192.168.0.300}`, "apply", "-f", "-")
	if err == nil {
		t.Fatalf("kubectl apply of a bad Eip succeeded:\n%s", out)
	}
	t.Logf("kubectl apply of a bad Eip:\n%s", out)
	const want = `The Eip "kubectl-bad" is invalid: spec.address: Invalid value: "192.168.0.91-192.168.0.300": `
	if !strings.Contains(out, want) {
		t.Errorf("kubectl printed:\n%s\nwant it to contain:\n%s", out, want)
	}

	conf := `
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpConf
metadata: {name: default}
spec: {as: 50001, listenPort: 17900, routerId: 172.22.0.10}`
	out, err = run(conf, "apply", "-f", "-")
	if err != nil {
		t.Fatalf("kubectl apply of OpenELB's BgpConf sample: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := run(conf, "delete", "-f", "-"); err != nil {
			t.Errorf("kubectl delete: %v\n%s", err, out)
		}
	})
	t.Logf("kubectl apply of OpenELB's BgpConf sample:\n%s", out)
	if !strings.Contains(out, "Warning: spec.routerId: every node will use 172.22.0.10 as its BGP router ID") {
		t.Errorf("kubectl printed:\n%s\nwant the routerId warning", out)
	}
}

// kubectl returns a runner of the real kubectl against the suite's API
// server, as its admin: stdin, then the arguments; it gives kubectl's
// combined output. It skips the test when there is no kubectl binary.
func kubectl(t *testing.T) func(stdin string, args ...string) (string, error) {
	t.Helper()
	bin, err := testenv.AssetPath("kubectl")
	if err != nil {
		t.Skipf("no kubectl to run (%v); `make control-plane` builds it", err)
	}
	kubeconfig := writeKubeconfig(t)
	return func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(bin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
}

// writeKubeconfig turns the suite's admin credentials into a kubeconfig.
func writeKubeconfig(t *testing.T) string {
	t.Helper()
	cfg := env.Config
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	kc.CurrentContext = "envtest"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}
