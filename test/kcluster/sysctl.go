package kcluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KernelSysctls are the host-wide settings the kubelet rewrites when
// protectKernelDefaults is off (and refuses to start on when it is on and
// they differ): its container manager's kernel tunables.
var KernelSysctls = []string{
	"vm.overcommit_memory",
	"vm.panic_on_oom",
	"kernel.panic",
	"kernel.panic_on_oops",
	"kernel.keys.root_maxkeys",
	"kernel.keys.root_maxbytes",
}

// Sysctls are saved values of KernelSysctls.
type Sysctls map[string]string

func sysctlPath(key string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
}

// SaveSysctls reads the current values of KernelSysctls.
func SaveSysctls() (Sysctls, error) {
	s := Sysctls{}
	for _, k := range KernelSysctls {
		v, err := os.ReadFile(sysctlPath(k))
		if err != nil {
			return nil, fmt.Errorf("save sysctl %s: %w", k, err)
		}
		s[k] = strings.TrimSpace(string(v))
	}
	return s, nil
}

// Restore writes the saved values back, only where they changed.
func (s Sysctls) Restore() error {
	now, err := SaveSysctls()
	if err != nil {
		return err
	}
	var errs []error
	for k, v := range s {
		if now[k] == v {
			continue
		}
		if err := os.WriteFile(sysctlPath(k), []byte(v), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restore sysctl %s=%s: %w", k, v, err))
		}
	}
	return errors.Join(errs...)
}

// Diff describes how the current values differ from s; empty when equal.
func (s Sysctls) Diff() (string, error) {
	now, err := SaveSysctls()
	if err != nil {
		return "", err
	}
	var d []string
	for _, k := range KernelSysctls {
		if now[k] != s[k] {
			d = append(d, fmt.Sprintf("%s: %s -> %s", k, s[k], now[k]))
		}
	}
	return strings.Join(d, ", "), nil
}

// sysctlsFile keeps the values from before the first kubelet of any test
// process started, so that a run that crashed before Down (its kubelet
// rewrote them) is repaired by the next one's TestMain, and a cluster that
// starts while another test process's runs saves the true originals, not
// the kubelet's values.
func sysctlsFile() string {
	return filepath.Join(os.TempDir(), "herald-e2e", "kcluster-sysctls")
}

// originalSysctls returns the values in sysctlsFile, or saves the current
// ones there when it does not exist.
func originalSysctls() (Sysctls, error) {
	if data, err := os.ReadFile(sysctlsFile()); err == nil {
		if s, err := parseSysctls(data); err == nil {
			return s, nil
		}
	}
	s, err := SaveSysctls()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for _, k := range KernelSysctls {
		fmt.Fprintf(&b, "%s=%s\n", k, s[k])
	}
	if err := os.MkdirAll(filepath.Dir(sysctlsFile()), 0o755); err != nil {
		return nil, fmt.Errorf("save sysctls: %w", err)
	}
	tmp := sysctlsFile() + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return nil, fmt.Errorf("save sysctls: %w", err)
	}
	if err := os.Rename(tmp, sysctlsFile()); err != nil {
		return nil, fmt.Errorf("save sysctls: %w", err)
	}
	return s, nil
}

// releaseSysctls restores s and, unless another test process's cluster
// still runs, forgets the saved file.
func releaseSysctls(s Sysctls) error {
	if err := s.Restore(); err != nil {
		return err
	}
	live, err := otherLiveClusters()
	if err != nil || live {
		return err
	}
	if err := os.Remove(sysctlsFile()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("sysctls: %w", err)
	}
	return nil
}

// restoreStaleSysctls is TestMain's repair after a crashed run: the saved
// originals are written back when no other test process's cluster runs.
func restoreStaleSysctls() error {
	data, err := os.ReadFile(sysctlsFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sysctls: %w", err)
	}
	if live, err := otherLiveClusters(); err != nil || live {
		return err
	}
	s, err := parseSysctls(data)
	if err != nil {
		return err
	}
	return releaseSysctls(s)
}

// parseSysctls reads sysctlsFile's key=value lines; it fails unless every
// one of KernelSysctls is there.
func parseSysctls(data []byte) (Sysctls, error) {
	s := Sysctls{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			s[k] = v
		}
	}
	for _, k := range KernelSysctls {
		if _, ok := s[k]; !ok {
			return nil, fmt.Errorf("%s: no %s", sysctlsFile(), k)
		}
	}
	return s, nil
}
