//go:build !linux

package layer2

import (
	"errors"
	"fmt"
	"net"
)

// openResponderSockets needs Linux packet sockets; elsewhere the package builds, so
// its logic can be tested, but a Responder cannot open.
func openResponderSockets(_ *net.Interface) (arpc, ndpc frameConn, groups groupJoiner, err error) {
	return nil, nil, nil, fmt.Errorf("packet sockets: %w", errors.ErrUnsupported)
}
