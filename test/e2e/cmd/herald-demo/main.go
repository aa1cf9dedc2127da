// Command herald-demo is `make demo` and `make demo-down`: it brings up the
// end-to-end testbed (test/e2e/cluster: a real kube-apiserver, Herald's
// controller and speakers, kube-proxy, BIRD as the ToR, a client, all in
// network namespaces), applies the sample manifests of hack/demo with the
// real kubectl, and shows what an operator looks at: the Service's
// EXTERNAL-IP, the router's ECMP route, curl from the client, and a
// misconfigured Eip (hack/demo/refused) refused by the admission webhook.
// The testbed keeps running in a background process until `down`. With
// -kubelets (`make cluster`, `make cluster-down`) it is instead the
// cluster testbed of test/kcluster, where kubelets and containerd run
// Herald's images, installed from the Helm chart.
//
//	herald-demo up     start (or show) the demo
//	herald-demo down   stop it and remove everything it made
//	herald-demo serve  the background process `up` starts (internal)
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

// defaultDir holds the demo's state: pid, log, kubeconfig, binaries.
const defaultDir = "/tmp/herald-demo"

func main() {
	fs := flag.NewFlagSet("herald-demo", flag.ExitOnError)
	dir := fs.String("dir", envOr("HERALD_DEMO_DIR", defaultDir), "state directory of the demo ($HERALD_DEMO_DIR)")
	manifests := fs.String("manifests", "hack/demo", "directory of the manifests `up` applies with kubectl")
	kubelets := fs.Bool("kubelets", false, "the cluster testbed with real kubelets and Herald from the Helm chart (make cluster)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: herald-demo [flags] up|down")
		fs.PrintDefaults()
	}
	if len(os.Args) < 2 {
		fs.Usage()
		os.Exit(2)
	}
	cmd := os.Args[1]
	_ = fs.Parse(os.Args[2:])
	d := demo{dir: *dir, manifests: *manifests, kubelets: *kubelets}
	var err error
	switch cmd {
	case "up":
		err = d.up()
	case "down":
		err = d.down()
	case "serve":
		err = d.serve()
	default:
		fs.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "herald-demo %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// demo is one demo's state directory.
type demo struct {
	dir, manifests string
	kubelets       bool
}

// make is the make target pair of this kind of demo.
func (d demo) make() (up, down string) {
	if d.kubelets {
		return "make cluster", "make cluster-down"
	}
	return "make demo", "make demo-down"
}

func (d demo) path(name string) string { return filepath.Join(d.dir, name) }
