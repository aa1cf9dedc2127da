//go:build linux

package bgp

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// closeConnection shuts down the TCP connection of a session: the kernel
// sends a FIN, GoBGP's next read fails, and no NOTIFICATION goes out,
// exactly as when the process dies. The sockets belong to GoBGP, so they
// are found among the process's file descriptors by their addresses.
// shutdown(2) leaves the descriptor to its owner, which closes it.
func closeConnection(s session) error {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list file descriptors: %w", err)
	}
	found := 0
	for _, e := range entries {
		link, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil || !strings.HasPrefix(link, "socket:") {
			continue
		}
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if typ, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TYPE); err != nil || typ != syscall.SOCK_STREAM {
			continue
		}
		local, err1 := sockname(syscall.Getsockname(fd))
		remote, err2 := sockname(syscall.Getpeername(fd))
		if err1 != nil || err2 != nil || !s.matches(local, remote) {
			continue
		}
		if err := syscall.Shutdown(fd, syscall.SHUT_RDWR); err != nil {
			return fmt.Errorf("shut down %s-%s: %w", local, remote, err)
		}
		found++
	}
	if found == 0 {
		return errors.New("no TCP connection found between " + s.local.String() + " and " + s.remote.String())
	}
	return nil
}

// sockname converts a socket address of a TCP socket.
func sockname(sa syscall.Sockaddr, err error) (netip.AddrPort, error) {
	if err != nil {
		return netip.AddrPort{}, err
	}
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)), nil
	case *syscall.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)), nil
	}
	return netip.AddrPort{}, errors.New("not an IP socket")
}
