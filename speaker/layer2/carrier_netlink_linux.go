package layer2

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NetlinkLinks is the LinkMonitor of the network namespace the speaker
// runs in (the node's, with hostNetwork), through rtnetlink link
// notifications. Subscribing needs no privilege.
type NetlinkLinks struct {
	ns *netns.NsHandle // another namespace, for tests; nil: the current one
}

var _ LinkMonitor = NetlinkLinks{}

// linkUpdateBuffer holds notifications while CarrierWatch is busy; the
// kernel drops the subscription when its socket buffer overflows, and
// CarrierWatch then subscribes and lists again.
const linkUpdateBuffer = 64

// WatchLinks subscribes first and lists second, so that no change falls
// between the two; a notification older than the list may follow it, and
// a later one corrects it.
func (n NetlinkLinks) WatchLinks(ctx context.Context) ([]LinkState, <-chan LinkState, error) {
	h, err := handleIn(n.ns)
	if err != nil {
		return nil, nil, err
	}
	defer h.Close()
	raw := make(chan netlink.LinkUpdate, linkUpdateBuffer)
	done := make(chan struct{})
	failed := make(chan error, 1)
	err = netlink.LinkSubscribeWithOptions(raw, done, netlink.LinkSubscribeOptions{
		Namespace: n.ns,
		ErrorCallback: func(err error) {
			select {
			case failed <- err:
			default:
			}
		},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("subscribe to link updates: %w", err)
	}
	links, err := h.LinkList()
	if err != nil {
		close(done)
		drain(raw)
		return nil, nil, fmt.Errorf("list links: %w", err)
	}
	initial := make([]LinkState, 0, len(links))
	for _, l := range links {
		initial = append(initial, linkState(l.Attrs(), false))
	}

	out := make(chan LinkState)
	go func() {
		defer close(out)
		defer drain(raw)
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-failed:
				// A failed receive (ENOBUFS after an overflow) ends
				// netlink's subscription; other errors skip a message.
				// Either way states may be stale: start over.
				return
			case u, ok := <-raw:
				if !ok {
					return
				}
				st := linkState(u.Link.Attrs(), u.Header.Type == unix.RTM_DELLINK)
				select {
				case out <- st:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return initial, out, nil
}

// drain empties raw until netlink closes it, so that its receiving
// goroutine never blocks on a send after done.
func drain(raw <-chan netlink.LinkUpdate) {
	go func() {
		for range raw {
		}
	}()
}

func linkState(a *netlink.LinkAttrs, deleted bool) LinkState {
	const want = unix.IFF_UP | unix.IFF_RUNNING
	return LinkState{Name: a.Name, Up: !deleted && a.RawFlags&want == want, Gone: deleted}
}

// handleIn opens a netlink handle in ns, or the current namespace.
func handleIn(ns *netns.NsHandle) (*netlink.Handle, error) {
	if ns == nil {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("open netlink: %w", err)
		}
		return h, nil
	}
	h, err := netlink.NewHandleAt(*ns)
	if err != nil {
		return nil, fmt.Errorf("open netlink in namespace %s: %w", ns, err)
	}
	return h, nil
}

// NetlinkRoutes resolves addresses through the routing table of the
// speaker's network namespace.
type NetlinkRoutes struct {
	ns *netns.NsHandle // another namespace, for tests; nil: the current one
}

var _ RouteLookup = NetlinkRoutes{}

// InterfaceTo returns the interface the kernel would send a packet to dst
// through (ip route get).
func (n NetlinkRoutes) InterfaceTo(dst netip.Addr) (string, error) {
	h, err := handleIn(n.ns)
	if err != nil {
		return "", err
	}
	defer h.Close()
	routes, err := h.RouteGet(dst.AsSlice())
	if err != nil {
		return "", fmt.Errorf("route to %s: %w", dst, err)
	}
	if len(routes) == 0 || routes[0].LinkIndex == 0 {
		return "", fmt.Errorf("route to %s: no interface", dst)
	}
	link, err := h.LinkByIndex(routes[0].LinkIndex)
	if err != nil {
		return "", fmt.Errorf("route to %s: interface %d: %w", dst, routes[0].LinkIndex, err)
	}
	return link.Attrs().Name, nil
}
