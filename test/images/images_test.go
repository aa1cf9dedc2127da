package images

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// want is what one image must look like.
type want struct {
	binary string // the entrypoint, a static Go binary
	user   string
	// onlyBinary: the image holds the binary and nothing else (FROM scratch).
	onlyBinary bool
	// elves: further files (symbolic links followed) that must be
	// executables of the image's architecture.
	elves []string
}

var images = map[string]want{
	"herald-controller": {binary: "/herald-controller", user: "65532:65532", onlyBinary: true},
	"herald-speaker":    {binary: "/herald-speaker", user: "0:0", onlyBinary: true},
	"herald-pause":      {binary: "/pause", user: "65535:65535", onlyBinary: true},
	"herald-keepalived": {
		binary: "/usr/local/bin/herald-keepalived", user: "0:0",
		elves: []string{"/usr/sbin/keepalived", "/usr/bin/ip", "/sbin/ip"},
	},
}

var machines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

var archiveName = regexp.MustCompile(`^(herald-[a-z]+)-(.+)-(amd64|arm64)\.oci\.tar$`)

// archivesDir is where `make images` writes (make images-check passes it).
func archivesDir() string {
	if d := os.Getenv("HERALD_IMAGES_DIR"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "bin", "images")
}

func TestImages(t *testing.T) {
	dir := archivesDir()
	files, _ := filepath.Glob(filepath.Join(dir, "*.oci.tar"))
	if len(files) == 0 {
		t.Skipf("no image archives in %s: `make images` (root) builds them, `make images-check` inspects them", dir)
	}
	seen := map[string]bool{}
	for _, f := range files {
		m := archiveName.FindStringSubmatch(filepath.Base(f))
		if m == nil {
			t.Errorf("%s: not <image>-<version>-<arch>.oci.tar", f)
			continue
		}
		name, version, arch := m[1], m[2], m[3]
		w, ok := images[name]
		if !ok {
			t.Errorf("%s: unknown image %q", f, name)
			continue
		}
		seen[name+"/"+arch] = true
		t.Run(name+"-"+arch, func(t *testing.T) { checkImage(t, f, name, version, arch, w) })
	}
	for name := range images {
		if !seen[name+"/amd64"] {
			t.Errorf("no %s amd64 archive in %s", name, dir)
		}
	}
}

func checkImage(t *testing.T, file, name, version, arch string, w want) {
	im, err := Open(file)
	if err != nil {
		t.Fatal(err)
	}
	c := im.Config
	// [registry/path/]name:version, as `make images` names it (IMAGE_PREFIX).
	if ref := im.RefName; ref != name+":"+version && !strings.HasSuffix(ref, "/"+name+":"+version) {
		t.Errorf("index ref name %q, want [...]/%s:%s", ref, name, version)
	}
	if c.OS != "linux" || c.Architecture != arch {
		t.Errorf("platform %s/%s, want linux/%s", c.OS, c.Architecture, arch)
	}
	if !slices.Equal(c.Config.Entrypoint, []string{w.binary}) || len(c.Config.Cmd) != 0 {
		t.Errorf("entrypoint %q cmd %q, want [%q] and none", c.Config.Entrypoint, c.Config.Cmd, w.binary)
	}
	if c.Config.User != w.user {
		t.Errorf("user %q, want %q", c.Config.User, w.user)
	}
	labels := map[string]string{
		"org.opencontainers.image.title":    name,
		"org.opencontainers.image.version":  version,
		"org.opencontainers.image.licenses": "Apache-2.0",
	}
	for k, v := range labels {
		if got := c.Config.Labels[k]; got != v {
			t.Errorf("label %s = %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"org.opencontainers.image.description", "org.opencontainers.image.source"} {
		if c.Config.Labels[k] == "" {
			t.Errorf("label %s missing", k)
		}
	}

	checkELF(t, im, w.binary, arch, true)
	for _, p := range w.elves {
		checkELF(t, im, p, arch, false)
	}
	if w.onlyBinary {
		for p, e := range im.Files {
			if e.Typeflag != tar.TypeDir && "/"+p != w.binary {
				t.Errorf("unexpected %s in a FROM scratch image", p)
			}
		}
	}
}

// checkELF asserts that p is an executable ELF file for arch, and with
// static that it has no interpreter and needs no shared library.
func checkELF(t *testing.T, im *Image, p, arch string, static bool) {
	t.Helper()
	name, err := im.Resolve(p)
	if err != nil {
		t.Error(err)
		return
	}
	if e := im.Files[name]; e.Mode&0o111 == 0 {
		t.Errorf("%s: mode %o, not executable", p, e.Mode)
	}
	data, err := im.ReadFile(p)
	if err != nil {
		t.Error(err)
		return
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Errorf("%s: %v", p, err)
		return
	}
	defer f.Close()
	if f.Machine != machines[arch] {
		t.Errorf("%s: ELF machine %v, want %v (%s)", p, f.Machine, machines[arch], arch)
	}
	if !static {
		return
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Errorf("%s: has an ELF interpreter: dynamically linked, want static (CGO_ENABLED=0)", p)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s: needs shared libraries %q, want static", p, libs)
	}
}
