package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// layerFile is one entry of a synthetic layer.
type layerFile struct {
	name, body, link string
	typ              byte
}

// writeArchive writes an OCI archive of one image made of layers (the
// first gzip-compressed, the others plain) and returns its path.
func writeArchive(t *testing.T, refName string, cfg Config, layers ...[]layerFile) string {
	t.Helper()
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	put := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	blob := func(b []byte) string {
		d := fmt.Sprintf("sha256:%x", sha256.Sum256(b))
		put(blobPath(d), b)
		return d
	}
	var m manifest
	for i, files := range layers {
		var lb bytes.Buffer
		ltw := tar.NewWriter(&lb)
		for _, f := range files {
			h := &tar.Header{Name: f.name, Mode: 0o755, Typeflag: f.typ, Linkname: f.link, Size: int64(len(f.body))}
			if err := ltw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			if _, err := ltw.Write([]byte(f.body)); err != nil {
				t.Fatal(err)
			}
		}
		if err := ltw.Close(); err != nil {
			t.Fatal(err)
		}
		mt, b := "application/vnd.oci.image.layer.v1.tar", lb.Bytes()
		if i == 0 {
			var zb bytes.Buffer
			zw := gzip.NewWriter(&zb)
			if _, err := zw.Write(b); err != nil {
				t.Fatal(err)
			}
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			mt, b = mt+"+gzip", zb.Bytes()
		}
		m.Layers = append(m.Layers, descriptor{MediaType: mt, Digest: blob(b), Size: int64(len(b))})
	}
	cb, _ := json.Marshal(cfg)
	m.Config = descriptor{Digest: blob(cb), Size: int64(len(cb))}
	mb, _ := json.Marshal(m)
	ib, _ := json.Marshal(index{Manifests: []descriptor{{Digest: blob(mb), Size: int64(len(mb)),
		Annotations: map[string]string{refNameAnnotation: refName}}}})
	put("index.json", ib)
	put("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "img.oci.tar")
	if err := os.WriteFile(p, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOpenLayersLinksWhiteouts checks the reader on a synthetic archive:
// config and ref name, later layers winning, whiteouts (plain and opaque),
// and symbolic links, relative, absolute and through a merged-/usr
// directory link, as Debian's bookworm roots have them.
func TestOpenLayersLinksWhiteouts(t *testing.T) {
	var cfg Config
	cfg.Architecture, cfg.OS = "arm64", "linux"
	cfg.Config.User = "65532:65532"
	cfg.Config.Entrypoint = []string{"/bin/tool"}
	p := writeArchive(t, "tool:v1", cfg,
		[]layerFile{
			{name: "./usr/", typ: tar.TypeDir},
			{name: "./usr/bin/", typ: tar.TypeDir},
			{name: "./usr/bin/tool", body: "old", typ: tar.TypeReg},
			{name: "./usr/bin/gone", body: "x", typ: tar.TypeReg},
			{name: "./bin", link: "usr/bin", typ: tar.TypeSymlink},
			{name: "./opaque/a", body: "a", typ: tar.TypeReg},
		},
		[]layerFile{
			{name: "usr/bin/tool", body: "new", typ: tar.TypeReg},
			{name: "usr/bin/.wh.gone", typ: tar.TypeReg},
			{name: "usr/sbin/alias", link: "../bin/tool", typ: tar.TypeSymlink},
			{name: "abs", link: "/bin/tool", typ: tar.TypeSymlink},
			{name: "loop", link: "loop", typ: tar.TypeSymlink},
			{name: "opaque/.wh..wh..opq", typ: tar.TypeReg},
			{name: "opaque/b", body: "b", typ: tar.TypeReg},
		})
	im, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if im.RefName != "tool:v1" || im.Config.Architecture != "arm64" || im.Config.Config.User != "65532:65532" ||
		len(im.Config.Config.Entrypoint) != 1 || im.Config.Config.Entrypoint[0] != "/bin/tool" {
		t.Errorf("ref %q, config %+v", im.RefName, im.Config)
	}
	for _, q := range []string{"/bin/tool", "/usr/bin/tool", "/usr/sbin/alias", "/abs"} {
		b, err := im.ReadFile(q)
		if err != nil || string(b) != "new" {
			t.Errorf("ReadFile(%s) = %q, %v; want the upper layer's \"new\"", q, b, err)
		}
	}
	for _, q := range []string{"/usr/bin/gone", "/opaque/a", "/loop", "/nothing"} {
		if _, err := im.Resolve(q); err == nil {
			t.Errorf("Resolve(%s): no error, want one", q)
		}
	}
	if b, err := im.ReadFile("/opaque/b"); err != nil || string(b) != "b" {
		t.Errorf("ReadFile(/opaque/b) = %q, %v", b, err)
	}
	if _, err := im.ReadFile("/usr/bin"); err == nil {
		t.Error("ReadFile of a directory: no error")
	}
}
