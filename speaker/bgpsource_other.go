//go:build !linux

package speaker

import (
	"errors"
	"net/netip"
)

// SystemInterfaceAddrs is Linux-only.
func SystemInterfaceAddrs() (map[string][]netip.Addr, error) {
	return nil, errors.New("reading interface addresses needs Linux")
}
