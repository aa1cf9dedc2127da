package certs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The files are laid out as the kubelet lays out a Secret volume:
//
//	tls.crt -> ..data/tls.crt
//	tls.key -> ..data/tls.key
//	..data  -> ..certs-123456   (the current generation)
//
// Swapping the ..data link replaces certificate and key in one rename. Had
// the two files been replaced one after the other, the webhook server's
// certwatcher, which reloads on every change of either, would read a
// certificate with the other's key in between and log an error on every
// rotation. It watches tls.crt and tls.key through the links, so removing
// the previous generation tells it to re-read both, already switched.
const (
	dataLink      = "..data"
	generationPfx = "..certs-"
)

// writePair makes dir/certName and dir/keyName hold cert and key, switched
// together. It reports whether anything changed.
func writePair(dir, certName, keyName string, cert, key []byte) (bool, error) {
	if same(filepath.Join(dir, certName), cert) && same(filepath.Join(dir, keyName), key) {
		return false, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("create certificate directory: %w", err)
	}
	gen, err := os.MkdirTemp(dir, generationPfx)
	if err != nil {
		return false, fmt.Errorf("create certificate generation: %w", err)
	}
	if err := os.Chmod(gen, 0o755); err != nil {
		return false, fmt.Errorf("open certificate generation %s: %w", gen, err)
	}
	if err := os.WriteFile(filepath.Join(gen, certName), cert, 0o644); err != nil {
		return false, fmt.Errorf("write certificate: %w", err)
	}
	if err := os.WriteFile(filepath.Join(gen, keyName), key, 0o600); err != nil {
		return false, fmt.Errorf("write key: %w", err)
	}
	previous, _ := os.Readlink(filepath.Join(dir, dataLink))
	if err := replaceLink(dir, dataLink, filepath.Base(gen)); err != nil {
		return false, err
	}
	for _, name := range []string{certName, keyName} {
		target := filepath.Join(dataLink, name)
		if current, err := os.Readlink(filepath.Join(dir, name)); err == nil && current == target {
			continue
		}
		if err := replaceLink(dir, name, target); err != nil {
			return false, err
		}
	}
	if err := removeGenerations(dir, filepath.Base(gen), previous); err != nil {
		return true, err
	}
	return true, nil
}

// replaceLink points dir/name at target with one rename, over whatever
// dir/name was.
func replaceLink(dir, name, target string) error {
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale link %s: %w", tmp, err)
	}
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("switch %s to %s: %w", name, target, err)
	}
	return nil
}

// removeGenerations deletes every generation but the current one: the
// previous one first, whose removal wakes the certwatcher, then any a
// crash left behind.
func removeGenerations(dir, current, previous string) error {
	var errs []error
	if previous != "" && previous != current && strings.HasPrefix(previous, generationPfx) {
		if err := os.RemoveAll(filepath.Join(dir, previous)); err != nil {
			errs = append(errs, fmt.Errorf("remove previous certificates: %w", err))
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("list certificate directory: %w", err))...)
	}
	for _, e := range entries {
		if name := e.Name(); e.IsDir() && strings.HasPrefix(name, generationPfx) && name != current {
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				errs = append(errs, fmt.Errorf("remove stale certificates %s: %w", name, err))
			}
		}
	}
	return errors.Join(errs...)
}

func same(path string, want []byte) bool {
	have, err := os.ReadFile(path)
	return err == nil && bytes.Equal(have, want)
}
