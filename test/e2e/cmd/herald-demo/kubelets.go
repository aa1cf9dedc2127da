package main

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/test/e2e/rig"
	"github.com/herald-lb/herald/test/kcluster"
)

// serveKubelets is serve for `make cluster`: the cluster testbed of
// test/kcluster (two nodes with containerd and a kubelet each, a
// controller manager and a scheduler, kube-proxy as a DaemonSet), Herald
// installed from the Helm chart, BIRD as the ToR, a web Deployment, and
// the demo's Eips and Services applied with kubectl.
func (d demo) serveKubelets() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	defer os.Remove(d.path("state.json"))
	if err := kcluster.CleanupStale(); err != nil {
		return err
	}
	setupCtx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()

	herald, err := kcluster.FindHeraldImages()
	if err != nil {
		return err
	}
	proxy, err := kcluster.FindImage("herald-kube-proxy")
	if err != nil {
		return err
	}
	web, err := kcluster.FindImage("herald-httpname")
	if err != nil {
		return err
	}
	c, err := kcluster.Up(setupCtx, kcluster.Options{Nodes: 2, Images: append(herald.All(), proxy, web), Logf: log.Printf})
	if err != nil {
		return err
	}
	defer func() {
		log.Printf("tearing the cluster down")
		if err := c.Down(); err != nil {
			log.Printf("down: %v", err)
		}
	}()
	if err := c.DeployKubeProxy(setupCtx, proxy); err != nil {
		return err
	}
	log.Printf("helm install herald deploy/charts/herald")
	if err := c.InstallChart(setupCtx, herald); err != nil {
		return err
	}
	if _, err := c.StartToR(setupCtx, c.BirdToRConfig(rig.NodeAS)); err != nil {
		return err
	}
	if err := c.Client.Create(setupCtx, kcluster.WebDeployment("default", 2, web)); err != nil {
		return err
	}
	kubectl, err := testenv.AssetPath("kubectl")
	if err != nil {
		return err
	}
	for _, f := range []string{"bgp.yaml", "service.yaml", "layer2.yaml", "vip.yaml"} {
		path := filepath.Join(d.manifests, f)
		err := rig.Eventually(setupCtx, time.Minute, time.Second, func(ctx context.Context) error {
			out, err := c.Kubectl(ctx, "apply", "-f", path)
			log.Printf("kubectl apply -f %s:\n%s", path, out)
			return err // the webhook may need a moment for its certificate
		})
		if err != nil {
			return err
		}
	}
	ips := map[string]netip.Addr{}
	for _, key := range []string{demoService.Name, demoL2Service.Name, demoVIPService.Name} {
		err := rig.Eventually(setupCtx, 2*time.Minute, 200*time.Millisecond, func(ctx context.Context) error {
			var svc corev1.Service
			if err := c.Client.Get(ctx, client.ObjectKey{Namespace: demoService.Namespace, Name: key}, &svc); err != nil {
				return err
			}
			if len(svc.Status.LoadBalancer.Ingress) == 0 {
				return fmt.Errorf("service %s has no address yet", key)
			}
			if key != demoService.Name && svc.Annotations[v1alpha2.AnnotationLayer2Node] == "" && svc.Annotations[v1alpha2.AnnotationVIPHolder] == "" {
				return fmt.Errorf("service %s: not announced yet", key)
			}
			ips[key], err = netip.ParseAddr(svc.Status.LoadBalancer.Ingress[0].IP)
			return err
		})
		if err != nil {
			return err
		}
	}
	if err := c.WaitHeraldReady(setupCtx, ips); err != nil {
		return err
	}
	kubeconfig := d.path("kubeconfig")
	data, err := os.ReadFile(c.Kubeconfig)
	if err != nil {
		return err
	}
	if err := os.WriteFile(kubeconfig, data, 0o600); err != nil {
		return err
	}
	st := state{
		Kubeconfig: kubeconfig, Kubectl: kubectl, Prefix: c.Prefix,
		RouterNS: c.Router.NS, ClientNS: c.Rig.Client.NS,
		Service: demoService.String(), IP: ips[demoService.Name].String(),
		L2Service: demoL2Service.String(), L2IP: ips[demoL2Service.Name].String(),
		VIPService: demoVIPService.String(), VIPIP: ips[demoVIPService.Name].String(),
		Refused:  filepath.Join(d.manifests, "refused", "overlapping-eip.yaml"),
		Kubelets: true,
	}
	if err := d.writeState(st); err != nil {
		return err
	}
	log.Printf("cluster ready: %s has %s", st.Service, st.IP)
	<-ctx.Done()
	return nil
}
