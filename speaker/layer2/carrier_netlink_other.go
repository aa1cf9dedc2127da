//go:build !linux

package layer2

import (
	"context"
	"errors"
	"net/netip"
)

var errNotLinux = errors.New("layer2 needs Linux (netlink)")

// NetlinkLinks is the LinkMonitor of Linux; elsewhere it fails.
type NetlinkLinks struct{}

// WatchLinks fails: there is no netlink.
func (NetlinkLinks) WatchLinks(context.Context) ([]LinkState, <-chan LinkState, error) {
	return nil, nil, errNotLinux
}

// NetlinkRoutes is the RouteLookup of Linux; elsewhere it fails.
type NetlinkRoutes struct{}

// InterfaceTo fails: there is no netlink.
func (NetlinkRoutes) InterfaceTo(netip.Addr) (string, error) {
	return "", errNotLinux
}
