package metallbmigrate

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// goldenCases are the inputs in testdata and the options they run with.
var goldenCases = []struct {
	name string
	opts Options
}{
	// The classic format cannot name a layer2 interface: the main
	// example gives one, the edge cases leave it to the operator.
	{"classic", Options{Layer2Interface: "eth0"}},
	{"classic-edges", Options{}},
	{"crds", Options{}},
	{"crds-extras", Options{Layer2Interface: "eth1"}},
}

// TestGolden translates each testdata/<name>.yaml and compares the
// output with testdata/<name>.golden; -update rewrites the golden files.
func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			got := convertFile(t, filepath.Join("testdata", tc.name+".yaml"), tc.opts)
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

func convertFile(t *testing.T, path string, opts Options) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Convert(opts, Input{Name: filepath.Base(path), R: f})
	if err != nil {
		t.Fatal(err)
	}
	out, err := res.YAML()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestClassicEqualsCRDs checks that the two spellings of the main example
// give the same Herald objects, notes aside (they name their sources) and
// but for the peers' names (classic peers have none).
func TestClassicEqualsCRDs(t *testing.T) {
	strip := func(b []byte) string {
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		return strings.NewReplacer("peer-10-99-0-1", "tor-r1", "peer-10-99-1-1", "tor-r2", "peer-fd00-99--1", "tor-v6").Replace(strings.Join(lines, "\n"))
	}
	classic := strip(convertFile(t, "testdata/classic.yaml", Options{Layer2Interface: "eth0"}))
	crds := strip(convertFile(t, "testdata/crds.yaml", Options{}))
	if diff := cmp.Diff(classic, crds); diff != "" {
		t.Errorf("classic and CRD spellings differ (-classic +crds):\n%s", diff)
	}
}

// TestDemoPair keeps hack/demo/metallb's output file in step with its
// input; -update rewrites it.
func TestDemoPair(t *testing.T) {
	const dir = "../../hack/demo/metallb"
	got := convertFile(t, filepath.Join(dir, "metallb-config.yaml"), Options{Layer2Interface: "eth0"})
	path := filepath.Join(dir, "herald.yaml")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}
