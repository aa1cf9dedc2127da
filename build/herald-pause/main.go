// Command herald-pause is the pod sandbox ("pause") process of the cluster
// testbed's kubelets. The upstream pause image cannot be pulled here (no
// registry is reachable), so this one is built from source like Herald's
// own images: it holds the pod's namespaces open by simply staying alive,
// reaps the zombies of containers that share its PID namespace (it is their
// init then), and exits 0 on SIGTERM or SIGINT, as the runtime expects when
// it stops a sandbox.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		fmt.Println("herald-pause")
		return
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			return
		}
		reap()
	}
}

// reap collects every exited child without blocking; one SIGCHLD may stand
// for several exits.
func reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
