package kcluster

import (
	"bytes"
	"fmt"
	"text/template"
)

// nodeConfig is what the per-node templates are rendered from.
type nodeConfig struct {
	Name         string // the Node's name (rig host name)
	IP           string // the node's LAN address, the Node's InternalIP
	Dir          string // the node's state dir
	Bin          string // where kubelet, containerd, the shim and ctr are
	Runc         string
	CNIBin       string
	PodCIDR      string
	CgroupRoot   string // "/<name>", the same in every hierarchy
	Socket       string // containerd's CRI socket
	Kubeconfig   string
	SandboxImage string
	LeaseSeconds int
}

var templates = template.Must(template.New("").Parse(`
{{define "containerd.toml"}}# containerd 2.x for node {{.Name}}: every path of its own under the
# node's state dir (written by test/kcluster).
version = 4
root = "{{.Dir}}/containerd/root"
state = "{{.Dir}}/containerd/state"
imports = []
# NRI would listen on the host-wide /var/run/nri/nri.sock.
disabled_plugins = ["io.containerd.nri.v1.nri"]

[plugins."io.containerd.server.v1.grpc"]
  address = "{{.Socket}}"
[plugins."io.containerd.server.v1.ttrpc"]
  address = "{{.Socket}}.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "{{.Dir}}/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "{{.SandboxImage}}"

[plugins."io.containerd.cri.v1.runtime"]
  netns_mounts_under_state_dir = true
  # The test runs without CAP_SYS_RESOURCE (this VM drops it): runc may not
  # lower a sandbox's oom_score_adj to -998, so keep every container's at
  # or above containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "{{.Runc}}"
        Root = "{{.Dir}}/containerd/runc"
        SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["{{.CNIBin}}"]
    conf_dir = "{{.Dir}}/cni/net.d"
    max_conf_num = 1
{{end}}

{{define "kubelet.yaml"}}# kubelet for node {{.Name}} (written by test/kcluster).
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://{{.Socket}}
# cgroup v1 host without systemd (testbed-facts §10).
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: {{.CgroupRoot}}
# The harness saves and restores the kernel sysctls the kubelet writes.
protectKernelDefaults: false
failSwapOn: false
# Imported images cannot be pulled again: no image garbage collection.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
# Every kubelet sees the whole machine: no eviction.
evictionHard: {}
evictionSoft: {}
# Inside the node's namespace only; the API server reaches it through
# the rig's relays.
address: 0.0.0.0
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
# The API server calls without a client certificate (envtest sets none),
# and only through the harness's relays: no authentication yet. Later steps
# give the API server a kubelet client certificate.
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
# Short node-monitor timings (issue 12, step 3): the lease is renewed
# every quarter of its duration, 2 s.
nodeLeaseDurationSeconds: {{.LeaseSeconds}}
podCIDR: {{.PodCIDR}}
podLogsDir: {{.Dir}}/pod-logs
volumePluginDir: {{.Dir}}/kubelet/volume-plugins
resolvConf: ""
maxPods: 30
serializeImagePulls: false
registerNode: true
{{end}}

{{define "cni.conflist"}}{
  "cniVersion": "1.0.0",
  "name": "herald-pods",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "{{.PodCIDR}}"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "{{.Dir}}/cni/ipam"
      }
    }
  ]
}
{{end}}

{{define "node.sh"}}#!/bin/sh
# Node {{.Name}}: containerd and the kubelet in ONE private mount namespace
# inside the node's network namespace (see test/kcluster's package doc).
# Started as: nsenter --net=... unshare --mount --propagation private sh node.sh
set -eu
export PATH="{{.Bin}}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Fixed paths, whatever the configs say, stay in here: the runc shim's
# sockets (/run/containerd/s), hostPath volumes under /run (Herald's
# /run/herald/keepalived, kube-proxy's /run/xtables.lock), the kubelet's
# /var/log/containers and /var/lib/kubelet/device-plugins, the CNI result
# cache (/var/lib/cni).
mount -t tmpfs -o mode=0755 herald-{{.Name}} /run
mkdir -m 0711 /run/containerd
mount -t tmpfs -o mode=0755 herald-{{.Name}} /var/lib
mount --bind "{{.Dir}}/var-log" /var/log

containerd --config "{{.Dir}}/containerd.toml" >>"{{.Dir}}/containerd.log" 2>&1 &
ctd=$!
echo "node.sh: containerd pid $ctd"
# Bounded: 600 polls of 50 ms.
i=0
while ! ctr --address "{{.Socket}}" version >/dev/null 2>&1; do
	i=$((i + 1))
	if [ "$i" -gt 600 ] || ! kill -0 "$ctd" 2>/dev/null; then
		echo "node.sh: containerd did not answer on {{.Socket}}" >&2
		kill -TERM "$ctd" 2>/dev/null || true
		exit 1
	fi
	sleep 0.05
done
echo "node.sh: containerd ready"

kubelet --config "{{.Dir}}/kubelet.yaml" --kubeconfig "{{.Kubeconfig}}" \
	--hostname-override "{{.Name}}" --node-ip "{{.IP}}" \
	--root-dir "{{.Dir}}/kubelet" --cert-dir "{{.Dir}}/kubelet/pki" --v 2 >>"{{.Dir}}/kubelet.log" 2>&1 &
kub=$!
echo "node.sh: kubelet pid $kub"

stop() {
	echo "node.sh: stopping kubelet $kub and containerd $ctd"
	kill -TERM "$kub" 2>/dev/null || true
	wait "$kub" || true
	kill -TERM "$ctd" 2>/dev/null || true
	wait "$ctd" || true
	exit 0
}
trap stop TERM INT
wait
{{end}}
`))

func render(name string, cfg nodeConfig) ([]byte, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, cfg); err != nil {
		return nil, fmt.Errorf("render %s for node %s: %w", name, cfg.Name, err)
	}
	return b.Bytes(), nil
}
