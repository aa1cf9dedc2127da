//go:build !linux

package layer2

import (
	"errors"
	"fmt"
	"net"
)

// openSockets needs Linux packet sockets; elsewhere the package builds, so
// its logic can be tested, but a Responder cannot open.
func openSockets(_ *net.Interface) (arpc, ndpc frameConn, groups groupJoiner, err error) {
	return nil, nil, nil, fmt.Errorf("packet sockets: %w", errors.ErrUnsupported)
}
