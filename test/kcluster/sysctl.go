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
