package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// setupTimeout bounds serve's work before it reports ready: a cold build
// of Herald's commands, the testbed, and the first route.
const setupTimeout = 10 * time.Minute

// state is what serve tells up (and down) once the demo is ready.
type state struct {
	Kubeconfig string `json:"kubeconfig"`
	Kubectl    string `json:"kubectl"`
	Prefix     string `json:"prefix"`
	RouterNS   string `json:"routerNS"`
	ClientNS   string `json:"clientNS"`
	Service    string `json:"service"`
	IP         string `json:"ip"`
	L2Service  string `json:"l2Service"`
	L2IP       string `json:"l2IP"`
	VIPService string `json:"vipService"`
	VIPIP      string `json:"vipIP"`
	// Refused is the manifest of a misconfiguration the webhooks refuse.
	Refused string `json:"refused"`
	// Kubelets says it is `make cluster`'s (real kubelets), not `make
	// demo`'s.
	Kubelets bool `json:"kubelets,omitempty"`
}

// demoService is hack/demo/service.yaml's Service (BGP), demoL2Service
// hack/demo/layer2.yaml's, demoVIPService hack/demo/vip.yaml's.
var (
	demoService    = client.ObjectKey{Namespace: "default", Name: "web"}
	demoL2Service  = client.ObjectKey{Namespace: "default", Name: "web-l2"}
	demoVIPService = client.ObjectKey{Namespace: "default", Name: "web-vip"}
)

// serve runs the testbed until SIGTERM or SIGINT. It writes the state file
// once the Service answers through the router, and removes it on exit.
func (d demo) serve() error {
	if d.kubelets {
		return d.serveKubelets()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	defer os.Remove(d.path("state.json"))

	setupCtx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	log.Printf("building herald-speaker, herald-controller and the testbed's helpers into %s", d.path("bin"))
	bins, err := cluster.Build(setupCtx, d.path("bin"))
	if err != nil {
		return err
	}
	c, err := cluster.Up(setupCtx, cluster.Options{Binaries: bins, Logf: log.Printf, VIP: true, Webhooks: true})
	if err != nil {
		return err
	}
	defer func() {
		log.Printf("tearing the testbed down")
		if err := c.Down(); err != nil {
			log.Printf("down: %v", err)
		}
	}()
	st, err := d.apply(setupCtx, c)
	if err != nil {
		return err
	}
	if err := d.writeState(st); err != nil {
		return err
	}
	log.Printf("demo ready: %s has %s", st.Service, st.IP)
	<-ctx.Done()
	return nil
}

// apply does what a user would: kubectl apply of the sample manifests;
// then what the missing kube-controller-manager would (EndpointSlices);
// and waits for the route at the ToR and an answer to curl.
func (d demo) apply(ctx context.Context, c *cluster.Cluster) (state, error) {
	kubectl, err := testenv.AssetPath("kubectl")
	if err != nil {
		return state{}, err
	}
	kubeconfig := d.path("kubeconfig")
	data, err := os.ReadFile(c.Kubeconfig)
	if err != nil {
		return state{}, err
	}
	if err := os.WriteFile(kubeconfig, data, 0o600); err != nil {
		return state{}, err
	}
	files, err := filepath.Glob(filepath.Join(d.manifests, "*.yaml"))
	if err != nil || len(files) == 0 {
		return state{}, fmt.Errorf("no manifests in %s (%v)", d.manifests, err)
	}
	for _, f := range files {
		out, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "apply", "-f", f).CombinedOutput()
		log.Printf("kubectl apply -f %s:\n%s", f, out)
		if err != nil {
			return state{}, fmt.Errorf("kubectl apply -f %s: %w", f, err)
		}
	}

	ip, err := publish(ctx, c, demoService)
	if err != nil {
		return state{}, err
	}
	err = rig.Eventually(ctx, time.Minute, 100*time.Millisecond, func(ctx context.Context) error {
		hops, err := c.BirdRoutes(ctx, netip.PrefixFrom(ip, ip.BitLen()))
		if err != nil {
			return err
		}
		if len(hops) != len(c.Nodes) {
			return fmt.Errorf("the ToR routes %s via %v, want every node", ip, hops)
		}
		_, err = c.Curl(ctx, "http://"+ip.String()+"/")
		return err
	})
	if err != nil {
		return state{}, err
	}
	l2IP, err := publish(ctx, c, demoL2Service)
	if err != nil {
		return state{}, err
	}
	err = rig.Eventually(ctx, time.Minute, 100*time.Millisecond, func(ctx context.Context) error {
		var svc corev1.Service
		if err := c.Client.Get(ctx, demoL2Service, &svc); err != nil {
			return err
		}
		if svc.Annotations[v1alpha2.AnnotationLayer2Node] == "" {
			return fmt.Errorf("service %s has no layer2 owner yet", demoL2Service)
		}
		_, err = c.Curl(ctx, "http://"+l2IP.String()+"/")
		return err
	})
	if err != nil {
		return state{}, err
	}
	vipIP, err := publish(ctx, c, demoVIPService)
	if err != nil {
		return state{}, err
	}
	err = rig.Eventually(ctx, time.Minute, 100*time.Millisecond, func(ctx context.Context) error {
		var svc corev1.Service
		if err := c.Client.Get(ctx, demoVIPService, &svc); err != nil {
			return err
		}
		if svc.Annotations[v1alpha2.AnnotationVIPHolder] == "" {
			return fmt.Errorf("service %s has no vip holder yet", demoVIPService)
		}
		_, err = c.Curl(ctx, "http://"+vipIP.String()+"/")
		return err
	})
	if err != nil {
		return state{}, err
	}
	return state{
		Kubeconfig: kubeconfig, Kubectl: kubectl, Prefix: c.Prefix,
		RouterNS: c.Router.NS, ClientNS: c.Rig.Client.NS,
		Service: demoService.String(), IP: ip.String(),
		L2Service: demoL2Service.String(), L2IP: l2IP.String(),
		VIPService: demoVIPService.String(), VIPIP: vipIP.String(),
		Refused: filepath.Join(d.manifests, "refused", "overlapping-eip.yaml"),
	}, nil
}

// publish waits for the Service's address and writes its EndpointSlices:
// one backend on every node.
func publish(ctx context.Context, c *cluster.Cluster, key client.ObjectKey) (netip.Addr, error) {
	var ip netip.Addr
	var svc corev1.Service
	err := rig.Eventually(ctx, time.Minute, 100*time.Millisecond, func(ctx context.Context) error {
		if err := c.Client.Get(ctx, key, &svc); err != nil {
			return err
		}
		if len(svc.Status.LoadBalancer.Ingress) == 0 {
			return fmt.Errorf("service %s has no address yet", key)
		}
		var err error
		ip, err = netip.ParseAddr(svc.Status.LoadBalancer.Ingress[0].IP)
		return err
	})
	if err != nil {
		return ip, err
	}
	return ip, c.PublishEndpoints(ctx, &svc, c.Nodes...)
}

// writeState tells up (and down) that the demo is ready: the state file
// appears whole, by rename.
func (d demo) writeState(st state) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(d.path("state.json.tmp"), data, 0o644); err != nil {
		return err
	}
	return os.Rename(d.path("state.json.tmp"), d.path("state.json"))
}
