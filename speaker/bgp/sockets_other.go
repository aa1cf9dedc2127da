//go:build !linux

package bgp

import (
	"errors"
	"fmt"
)

// closeConnection is Linux-only: elsewhere a graceful Stop leaves the
// sessions to the process exit.
func closeConnection(s session) error {
	return fmt.Errorf("close %s-%s: %w", s.local, s.remote, errors.ErrUnsupported)
}
