package vipdir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// TestConfigStatusWriteRead pins config.json byte for byte: the contract
// with speakers of other versions during an upgrade.
func TestConfigStatusWriteRead(t *testing.T) {
	path := Dir(t.TempDir()).ConfigStatus()
	if _, err := ReadConfigStatus(path); !errors.Is(err, ErrNoConfigStatus) {
		t.Fatalf("read of a missing file: %v, want ErrNoConfigStatus", err)
	}
	s := NewConfigStatus([]byte("live"), []byte("bad"), errors.New("keepalived refused the config: exit status 5:\n(Line 7) Unknown keyword 'x'\n"))
	if err := WriteConfigStatus(path, s); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"live":"` + ConfigHash([]byte("live")) + `","refused":"` + ConfigHash([]byte("bad")) +
		`","error":"keepalived refused the config: exit status 5: (Line 7) Unknown keyword 'x'"}` + "\n"
	if string(data) != want {
		t.Errorf("config.json = %q, want %q", data, want)
	}
	got, err := ReadConfigStatus(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, got); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v (%v), want 0644 so the speaker can read it", fi.Mode().Perm(), err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("directory holds %d files, want only %s", len(entries), ConfigName)
	}
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadConfigStatus(path); err == nil || errors.Is(err, ErrNoConfigStatus) {
		t.Errorf("read of a broken file: %v, want a parse error", err)
	}
}

func TestNewConfigStatus(t *testing.T) {
	sha := func(s string) string { return ConfigHash([]byte(s)) }
	long := strings.Repeat("é", MaxConfigError) // two bytes each: a cut must not split one
	for _, tc := range []struct {
		name          string
		live, refused []byte
		err           error
		want          ConfigStatus
	}{
		{"nothing yet", nil, nil, nil, ConfigStatus{}},
		{"empty live config", []byte{}, nil, nil, ConfigStatus{Live: sha("")}},
		{"accepted", []byte("A"), nil, nil, ConfigStatus{Live: sha("A")}},
		{"refused, error kept", []byte("A"), []byte("B"), errors.New("  exit status 5:\n\tbad  "),
			ConfigStatus{Live: sha("A"), Refused: sha("B"), Error: "exit status 5: bad"}},
		{"refused with no live config", nil, []byte("B"), errors.New("bad"), ConfigStatus{Refused: sha("B"), Error: "bad"}},
		{"an error without a refusal is dropped", []byte("A"), nil, errors.New("bad"), ConfigStatus{Live: sha("A")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, NewConfigStatus(tc.live, tc.refused, tc.err)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	got := NewConfigStatus(nil, []byte("B"), errors.New(long)).Error
	if len(got) > MaxConfigError || !utf8.ValidString(got) || !strings.HasSuffix(got, " …") {
		t.Errorf("long error trimmed to %d bytes (valid UTF-8 %v), want at most %d ending in an ellipsis",
			len(got), utf8.ValidString(got), MaxConfigError)
	}
	if ConfigHash([]byte("A")) != "559aead08264d5795d3909718cdd05abd49572e84fe55590eef31a88a08fdffd" {
		t.Errorf("ConfigHash is not hex SHA-256: %s", ConfigHash([]byte("A")))
	}
}
