package kcluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
)

// egressProxy is how the API server, on the host, reaches the kubelets in
// the node namespaces (logs, exec, port-forward) without a route or an
// address on the host: the API server's egress selector sends its
// "cluster" traffic as HTTP CONNECT requests over a unix socket to this
// proxy in the test process, which maps the target (a Node's address and
// kubelet port, e.g. node1:10250 or 10.99.0.11:10250) to the host end of a
// rig.ExposeToHost relay into that node.
type egressProxy struct {
	Socket     string // the unix socket the API server dials
	ConfigFile string // its EgressSelectorConfiguration

	mu      sync.Mutex
	targets map[string]string // CONNECT target -> host address
	l       net.Listener
	wg      sync.WaitGroup
}

// startEgressProxy listens on dir/egress.sock and writes the API server's
// egress selector configuration next to it.
func startEgressProxy(dir string) (*egressProxy, error) {
	p := &egressProxy{
		Socket:     filepath.Join(dir, "egress.sock"),
		ConfigFile: filepath.Join(dir, "egress-selector.yaml"),
		targets:    map[string]string{},
	}
	cfg := fmt.Sprintf(`apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: %s
`, p.Socket)
	if err := os.WriteFile(p.ConfigFile, []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("egress proxy: %w", err)
	}
	_ = os.Remove(p.Socket)
	l, err := net.Listen("unix", p.Socket)
	if err != nil {
		return nil, fmt.Errorf("egress proxy: %w", err)
	}
	p.l = l
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Map sends CONNECT requests for target to hostAddr.
func (p *egressProxy) Map(target, hostAddr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.targets[target] = hostAddr
}

// Close stops accepting and waits for the accept loop; open tunnels end
// with their peers.
func (p *egressProxy) Close() error {
	err := p.l.Close()
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (p *egressProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

func (p *egressProxy) handle(c net.Conn) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	hostAddr, ok := p.targets[req.Host]
	p.mu.Unlock()
	if req.Method != http.MethodConnect || !ok {
		fmt.Fprintf(c, "HTTP/1.1 502 Bad Gateway\r\n\r\nno route to %s\n", req.Host)
		c.Close()
		return
	}
	up, err := (&net.Dialer{}).DialContext(context.Background(), "tcp", hostAddr)
	if err != nil {
		fmt.Fprintf(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n%v\n", err)
		c.Close()
		return
	}
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		c.Close()
		up.Close()
		return
	}
	// TLS follows, client first: br holds nothing more, but pass on
	// whatever it may hold.
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(up, br)
		if cw, ok := up.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		close(done)
	}()
	_, _ = io.Copy(c, up)
	c.Close()
	up.Close()
	<-done
}
