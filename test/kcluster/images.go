package kcluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/test/images"
)

// Image is an OCI archive of `make images` and the name it carries (the
// name containerd gives it on import, and the one pods ask for).
type Image struct {
	Archive string
	Ref     string
}

// imagesDir is where `make images` writes: $HERALD_IMAGES_DIR, else
// <repo>/bin/images.
func imagesDir() (string, error) {
	if d := os.Getenv("HERALD_IMAGES_DIR"); d != "" {
		return d, nil
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "bin", "images"), nil
}

// FindImage returns the newest amd64 archive of image name (herald-pause,
// herald-controller, ...) in the images dir or its testbed/ subdir.
func FindImage(name string) (Image, error) {
	dir, err := imagesDir()
	if err != nil {
		return Image{}, err
	}
	// The testbed's own images (`make testbed-images`) live apart, so
	// that images-check sees only what ships.
	files, _ := filepath.Glob(filepath.Join(dir, name+"-*-amd64.oci.tar"))
	more, _ := filepath.Glob(filepath.Join(dir, "testbed", name+"-*-amd64.oci.tar"))
	files = append(files, more...)
	if len(files) == 0 {
		return Image{}, fmt.Errorf("image %s: no %s-*-amd64.oci.tar in %s (run `make images` as root)", name, name, dir)
	}
	sort.Slice(files, func(i, j int) bool { return modTime(files[i]).After(modTime(files[j])) })
	im, err := images.Open(files[0])
	if err != nil {
		return Image{}, fmt.Errorf("image %s: %w", name, err)
	}
	if im.RefName == "" {
		return Image{}, fmt.Errorf("image %s: %s carries no name", name, files[0])
	}
	return Image{Archive: files[0], Ref: im.RefName}, nil
}

func modTime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// importImages loads the archives into the node's containerd, in the
// namespace the CRI uses (k8s.io), through its socket from the host.
func (n *Node) importImages(ctx context.Context, ims ...Image) error {
	for _, im := range ims {
		ictx, cancel := context.WithTimeout(ctx, time.Minute)
		out, err := exec.CommandContext(ictx, filepath.Join(n.cfg.Bin, "ctr"), "--address", n.cfg.Socket,
			"-n", "k8s.io", "images", "import", im.Archive).CombinedOutput()
		cancel()
		if err != nil {
			return fmt.Errorf("node %s: import %s: %w: %s", n.Name, im.Archive, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// Images lists the image names in the node's containerd, in the CRI's
// namespace.
func (n *Node) Images(ctx context.Context) ([]string, error) {
	ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ictx, filepath.Join(n.cfg.Bin, "ctr"), "--address", n.cfg.Socket,
		"-n", "k8s.io", "images", "ls", "-q").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("node %s: list images: %w: %s", n.Name, err, strings.TrimSpace(string(out)))
	}
	return strings.Fields(string(out)), nil
}

// TagImage gives the image src a second name dst in the node's containerd,
// as a registry would serve one build under two tags: a rollout to dst
// replaces every pod though nothing is pulled.
func (n *Node) TagImage(ctx context.Context, src, dst string) error {
	ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ictx, filepath.Join(n.cfg.Bin, "ctr"), "--address", n.cfg.Socket,
		"-n", "k8s.io", "images", "tag", "--force", src, dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("node %s: tag %s as %s: %w: %s", n.Name, src, dst, err, strings.TrimSpace(string(out)))
	}
	return nil
}
