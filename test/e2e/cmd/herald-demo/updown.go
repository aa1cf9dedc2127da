package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/herald-lb/herald/test/e2e/rig"
	"github.com/herald-lb/herald/test/kcluster"
)

// readyTimeout bounds how long up waits for serve: a cold build of the
// commands takes a few minutes on two cores, a warm start seconds.
const readyTimeout = 12 * time.Minute

// up starts serve in the background (its own session, so it outlives
// `make`), waits until it reports the demo ready, and shows it. A demo
// that already runs is shown again.
func (d demo) up() error {
	if os.Geteuid() != 0 {
		return errors.New("the demo builds network namespaces and needs root")
	}
	if pid, ok := d.running(); ok {
		_, down := d.make()
		fmt.Printf("herald-demo is already running (pid %d); `%s` removes it.\n\n", pid, down)
		return d.show()
	}
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return err
	}
	manifests, err := filepath.Abs(d.manifests)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logFile, err := os.Create(d.path("demo.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	_ = os.Remove(d.path("state.json"))
	args := []string{"serve", "-dir", d.dir, "-manifests", manifests}
	if d.kubelets {
		args = append(args, "-kubelets")
	}
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the demo process: %w", err)
	}
	if err := os.WriteFile(d.path("pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fmt.Printf("herald-demo: building and starting the testbed (log: %s) ...\n", d.path("demo.log"))

	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(readyTimeout)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("the demo process exited (%v) before it was ready; its log:\n%s", err, tail(d.path("demo.log"), 40))
		case <-deadline:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			return fmt.Errorf("not ready after %v; stopped it. Its log:\n%s", readyTimeout, tail(d.path("demo.log"), 40))
		case <-tick.C:
		}
		if _, err := os.Stat(d.path("state.json")); err == nil {
			break
		}
	}
	fmt.Printf("herald-demo: ready in %v\n\n", time.Since(start).Round(100*time.Millisecond))
	return d.show()
}

// show prints what a user wants to see, each under the command that
// produced it so that it can be run again by hand.
func (d demo) show() error {
	_, down := d.make()
	st, err := d.state()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	section := func(title string, argv ...string) {
		fmt.Printf("$ %s\n", strings.Join(argv, " "))
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		fmt.Print(string(out))
		if err != nil {
			fmt.Printf("(%s failed: %v)\n", title, err)
		}
		fmt.Println()
	}
	if st.Kubelets {
		section("the pods", st.Kubectl, "--kubeconfig", st.Kubeconfig, "get", "pods", "-A", "-o", "wide")
	}
	section("kubectl", st.Kubectl, "--kubeconfig", st.Kubeconfig, "get", "eip,svc", "-o", "wide")
	section("the ToR's route", "ip", "-n", st.RouterNS, "route", "show", st.IP)
	url := "http://" + st.IP + "/"
	fmt.Printf("$ for i in 1 2 3 4 5 6; do ip netns exec %s curl -s --max-time 2 %s; done\n", st.ClientNS, url)
	for i := 0; i < 6; i++ {
		out, err := exec.CommandContext(ctx, "ip", "netns", "exec", st.ClientNS, "curl", "-sS", "--max-time", "2", url).CombinedOutput()
		fmt.Print(string(out))
		if err != nil {
			fmt.Printf("(curl failed: %v)\n", err)
		}
	}
	if st.L2IP != "" {
		fmt.Println()
		section("the Layer2 Service's owner", st.Kubectl, "--kubeconfig", st.Kubeconfig, "get", "svc", "web-l2",
			"-o", `custom-columns=NAME:.metadata.name,EXTERNAL-IP:.status.loadBalancer.ingress[0].ip,OWNER:.metadata.annotations.layer2\.openelb\.kubesphere\.io/v1alpha1`)
		l2URL := "http://" + st.L2IP + "/"
		curlFromClient(ctx, st.ClientNS, l2URL)
		fmt.Println()
		section("the client's neighbour entry (the owner's MAC)", "ip", "-n", st.ClientNS, "neigh", "show", st.L2IP)
	}
	if st.VIPIP != "" {
		fmt.Println()
		section("the VIP Service's holder", st.Kubectl, "--kubeconfig", st.Kubeconfig, "get", "svc", "web-vip",
			"-o", `custom-columns=NAME:.metadata.name,EXTERNAL-IP:.status.loadBalancer.ingress[0].ip,HOLDER:.metadata.annotations.vip\.herald\.io/holder`)
		section("the VIP Eip's VRIDs", st.Kubectl, "--kubeconfig", st.Kubeconfig, "get", "eip", "demo-vip",
			"-o", `jsonpath={.status.vrids}{"\n"}`)
		vipURL := "http://" + st.VIPIP + "/"
		curlFromClient(ctx, st.ClientNS, vipURL)
		fmt.Println()
		section("the client's neighbour entry (the holder's MAC)", "ip", "-n", st.ClientNS, "neigh", "show", st.VIPIP)
	}
	if st.Refused != "" {
		fmt.Println()
		fmt.Println("A misconfiguration, refused at admission by herald-controller's webhook:")
		argv := []string{st.Kubectl, "--kubeconfig", st.Kubeconfig, "apply", "-f", st.Refused}
		fmt.Printf("$ %s\n", strings.Join(argv, " "))
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		fmt.Print(string(out))
		if err != nil {
			fmt.Println("(refused as expected: nothing was created)")
		} else {
			fmt.Println("(NOT refused: are the webhooks running? see the demo's log)")
		}
	}
	fmt.Printf(`
The testbed keeps running. Use it with:
  export KUBECONFIG=%s
  %s get svc,eip,bgppeer
Remove it with: %s
`, st.Kubeconfig, st.Kubectl, down)
	return nil
}

// down stops serve (which tears the testbed down), then removes whatever
// a crashed serve left: the rig's namespaces and processes, and the
// state directory.
func (d demo) down() error {
	st, stErr := d.state()
	if pid, ok := d.running(); ok {
		fmt.Printf("herald-demo: stopping pid %d ...\n", pid)
		_ = syscall.Kill(pid, syscall.SIGTERM)
		err := rig.Eventually(context.Background(), time.Minute, 100*time.Millisecond, func(context.Context) error {
			if syscall.Kill(pid, 0) == nil {
				return fmt.Errorf("pid %d still running", pid)
			}
			return nil
		})
		if err != nil {
			fmt.Printf("herald-demo: %v; killing it\n", err)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if stErr == nil && st.Prefix != "" {
		if err := rig.Cleanup(st.Prefix); err != nil {
			return err
		}
	}
	if d.kubelets {
		if err := kcluster.CleanupStale(); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(d.dir); err != nil {
		return err
	}
	fmt.Println("herald-demo: down")
	return nil
}

// running returns serve's pid when it is alive.
func (d demo) running() (int, bool) {
	data, err := os.ReadFile(d.path("pid"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, syscall.Kill(pid, 0) == nil
}

func (d demo) state() (state, error) {
	var st state
	data, err := os.ReadFile(d.path("state.json"))
	if err != nil {
		return st, fmt.Errorf("no running demo's state: %w", err)
	}
	return st, json.Unmarshal(data, &st)
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// curlFromClient shows one curl of url from the client namespace, under
// the command that would repeat it.
func curlFromClient(ctx context.Context, clientNS, url string) {
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", clientNS, "curl", "-sS", "--max-time", "2", url).CombinedOutput()
	fmt.Printf("$ ip netns exec %s curl -s %s\n%s", clientNS, url, out)
	if err != nil {
		fmt.Printf("(curl failed: %v)\n", err)
	}
}
