package kcluster

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// HeraldImages are the three images deploy/herald.yaml names.
type HeraldImages struct {
	Controller, Speaker, Keepalived Image
}

// FindHeraldImages finds the newest amd64 archives of Herald's images.
func FindHeraldImages() (HeraldImages, error) {
	var h HeraldImages
	var err error
	for name, im := range map[string]*Image{"herald-controller": &h.Controller, "herald-speaker": &h.Speaker, "herald-keepalived": &h.Keepalived} {
		if *im, err = FindImage(name); err != nil {
			return h, err
		}
	}
	return h, nil
}

// All lists the images, for Options.Images.
func (h HeraldImages) All() []Image { return []Image{h.Controller, h.Speaker, h.Keepalived} }

// ManifestInstall is deploy/herald.yaml with only its images overridden,
// the way an operator installs a build of their own: a kustomization
// next to a copy of the manifest (kustomize loads nothing from outside
// its directory), applied with `kubectl apply -k`.
type ManifestInstall struct {
	// Dir holds herald.yaml and kustomization.yaml.
	Dir string
}

// WriteManifestInstall writes the kustomization for images into a fresh
// directory of the state dir named name.
func (c *Cluster) WriteManifestInstall(name string, images HeraldImages) (*ManifestInstall, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, err
	}
	manifest, err := os.ReadFile(filepath.Join(root, "deploy", "herald.yaml"))
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	dir := filepath.Join(c.StateDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	var k strings.Builder
	k.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- herald.yaml\nimages:\n")
	for manifestName, im := range map[string]Image{
		"herald-controller": images.Controller, "herald-speaker": images.Speaker, "herald-keepalived": images.Keepalived,
	} {
		repo, tag, ok := splitRef(im.Ref)
		if !ok {
			return nil, fmt.Errorf("manifest: image %q has no tag", im.Ref)
		}
		fmt.Fprintf(&k, "- name: %s\n  newName: %s\n  newTag: %q\n", manifestName, repo, tag)
	}
	for file, data := range map[string][]byte{"herald.yaml": manifest, "kustomization.yaml": []byte(k.String())} {
		if err := os.WriteFile(filepath.Join(dir, file), data, 0o644); err != nil {
			return nil, fmt.Errorf("manifest: %w", err)
		}
	}
	return &ManifestInstall{Dir: dir}, nil
}

// splitRef splits "docker.io/library/herald-controller:v1" at the tag.
func splitRef(ref string) (repo, tag string, ok bool) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, "", false
	}
	return ref[:i], ref[i+1:], true
}

// Apply runs `kubectl apply -k` on the install.
func (c *Cluster) Apply(ctx context.Context, m *ManifestInstall) (string, error) {
	return c.KubectlTimeout(ctx, time.Minute, "apply", "-k", m.Dir)
}

// WaitHerald waits until the controller's Deployment and the speaker's
// DaemonSet have rolled out completely and keepalived's DaemonSet is Ready
// on every node (it updates OnDelete: a rollout leaves its pods alone).
func (c *Cluster) WaitHerald(ctx context.Context, within time.Duration) error {
	if err := c.WaitDeployment(ctx, "herald-system", "herald-controller-manager", within); err != nil {
		return err
	}
	if err := c.WaitDaemonSet(ctx, "herald-system", "herald-speaker", within); err != nil {
		return err
	}
	return c.waitDaemonSet(ctx, "herald-system", "herald-keepalived", within, false)
}

// Retag names every image of h tag on every node (TagImage) and returns
// the images under their new names.
func (c *Cluster) Retag(ctx context.Context, h HeraldImages, tag string) (HeraldImages, error) {
	out := h
	for _, im := range []*Image{&out.Controller, &out.Speaker, &out.Keepalived} {
		repo, _, ok := splitRef(im.Ref)
		if !ok {
			return h, fmt.Errorf("retag: image %q has no tag", im.Ref)
		}
		dst := repo + ":" + tag
		for _, n := range c.nodes {
			if err := n.TagImage(ctx, im.Ref, dst); err != nil {
				return h, err
			}
		}
		im.Ref = dst
	}
	return out, nil
}

// WaitHeraldReady waits until every Service of ips answers curl from the
// client.
func (c *Cluster) WaitHeraldReady(ctx context.Context, ips map[string]netip.Addr) error {
	for svc, ip := range ips {
		err := rig.Eventually(ctx, time.Minute, 200*time.Millisecond, func(ctx context.Context) error {
			_, err := c.curl(ctx, ip)
			return err
		})
		if err != nil {
			return fmt.Errorf("service %s: %w", svc, err)
		}
	}
	return nil
}

// curl asks ip:80 from the client namespace and returns the answer.
func (c *Cluster) curl(ctx context.Context, ip netip.Addr) (string, error) {
	out, err := c.ExecContext(ctx, c.Rig.Client.NS, "curl", "-sS", "--max-time", "2", "http://"+netip.AddrPortFrom(ip, 80).String()+"/")
	if err != nil {
		return "", fmt.Errorf("curl %s from the client: %w", ip, err)
	}
	return strings.TrimSpace(out), nil
}

// ControllerArgs adds args to the controller's container in the install
// (a kustomize JSON patch), as an operator tunes a flag.
func (m *ManifestInstall) ControllerArgs(args ...string) error {
	var patch strings.Builder
	for _, a := range args {
		fmt.Fprintf(&patch, "  - op: add\n    path: /spec/template/spec/containers/0/args/-\n    value: %q\n", a)
	}
	k, err := os.ReadFile(filepath.Join(m.Dir, "kustomization.yaml"))
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	k = append(k, []byte("patches:\n- target:\n    kind: Deployment\n    name: herald-controller-manager\n  patch: |-\n"+indent(patch.String(), "    "))...)
	if err := os.WriteFile(filepath.Join(m.Dir, "kustomization.yaml"), k, 0o644); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	return nil
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}
