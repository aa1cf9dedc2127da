//go:build linux

package layer2

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// respTestbed is two network namespaces, A (the Responder's, va) and B
// (the client's, vb), joined by a veth pair on 192.0.2.0/24 and
// 2001:db8::/64. A is .1 and ::1 with MAC rtOurMAC, B .2 and ::2 with
// rtPeerMAC.
type respTestbed struct {
	nsA, nsB string
	hA, hB   netns.NsHandle
	nlA, nlB *netlink.Handle
	vbIndex  int
}

func newRespTestbed(t *testing.T) *respTestbed {
	t.Helper()
	rtSweepStaleNamespaces(t)
	prefix := fmt.Sprintf("hl2t-%d-", os.Getpid())
	tb := &respTestbed{nsA: prefix + "a", nsB: prefix + "b"}
	for _, ns := range []string{tb.nsA, tb.nsB} {
		rtRun(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { rtDeleteNamespace(t, ns) })
	}
	var err error
	if tb.hA, err = netns.GetFromName(tb.nsA); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tb.hA.Close() })
	if tb.hB, err = netns.GetFromName(tb.nsB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tb.hB.Close() })
	if tb.nlA, err = netlink.NewHandleAt(tb.hA); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tb.nlA.Close)
	if tb.nlB, err = netlink.NewHandleAt(tb.hB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tb.nlB.Close)

	// Created in A with its peer in B: the host's namespace never sees it.
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: "va", HardwareAddr: rtOurMAC},
		PeerName:         "vb",
		PeerHardwareAddr: rtPeerMAC,
		PeerNamespace:    netlink.NsFd(int(tb.hB)),
	}
	if err := tb.nlA.LinkAdd(veth); err != nil {
		t.Fatalf("add veth pair: %v", err)
	}
	// New namespaces inherit conf/all and conf/default from the host's:
	// set what matters explicitly. B's neighbour timers make NUD quick
	// (probe 1 s after use of a stale entry), mcast_resolicit 0 keeps the
	// probes unicast, locktime 10 s keeps plain ARP replies from moving an
	// entry, so only a true gratuitous ARP does.
	rtSysctls(t, tb.nsA, "net.ipv6.conf.va.disable_ipv6=0", "net.ipv6.conf.va.accept_ra=0")
	rtSysctls(t, tb.nsB, "net.ipv6.conf.vb.disable_ipv6=0", "net.ipv6.conf.vb.accept_ra=0",
		"net.ipv6.conf.vb.accept_dad=1", "net.ipv6.conf.vb.dad_transmits=1",
		"net.ipv4.conf.vb.arp_accept=0", "net.ipv4.conf.vb.arp_ignore=0",
		"net.ipv4.neigh.vb.delay_first_probe_time=1", "net.ipv6.neigh.vb.delay_first_probe_time=1",
		"net.ipv4.neigh.vb.mcast_resolicit=0", "net.ipv6.neigh.vb.mcast_resolicit=0",
		"net.ipv4.neigh.vb.locktime=1000")
	for _, l := range []struct {
		h    *netlink.Handle
		name string
		last byte
	}{{tb.nlA, "va", 1}, {tb.nlB, "vb", 2}} {
		link, err := l.h.LinkByName(l.name)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{fmt.Sprintf("192.0.2.%d/24", l.last), fmt.Sprintf("2001:db8::%d/64", l.last)} {
			a, err := netlink.ParseAddr(p)
			if err != nil {
				t.Fatal(err)
			}
			a.Flags = unix.IFA_F_NODAD
			if err := l.h.AddrAdd(link, a); err != nil {
				t.Fatalf("%s: add %s: %v", l.name, p, err)
			}
		}
		if err := l.h.LinkSetUp(link); err != nil {
			t.Fatal(err)
		}
		if l.name == "vb" {
			tb.vbIndex = link.Attrs().Index
		}
	}
	return tb
}

// addMacvlan stacks a macvlan with the given MAC on va, up, for the rest of
// the test.
func (tb *respTestbed) addMacvlan(t *testing.T, mac net.HardwareAddr) {
	t.Helper()
	va, err := tb.nlA.LinkByName("va")
	if err != nil {
		t.Fatal(err)
	}
	mv := &netlink.Macvlan{
		LinkAttrs: netlink.LinkAttrs{Name: "mv0", ParentIndex: va.Attrs().Index, HardwareAddr: mac},
		Mode:      netlink.MACVLAN_MODE_BRIDGE,
	}
	if err := tb.nlA.LinkAdd(mv); err != nil {
		t.Fatalf("add macvlan: %v", err)
	}
	if err := tb.nlA.LinkSetUp(mv); err != nil {
		t.Fatalf("set macvlan up: %v", err)
	}
}

// rtInNamespace runs fn on a thread of its own that has entered h. The
// thread is returned to the runtime only if it got back to the original
// namespace; otherwise it dies with the goroutine.
func rtInNamespace(h netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(h); err != nil {
			errc <- err
			return
		}
		err = fn()
		if berr := netns.Set(orig); berr != nil {
			errc <- errors.Join(err, fmt.Errorf("back to the original namespace: %w", berr))
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// startResponder opens a Responder on va in A. Its sockets stay in A.
func (tb *respTestbed) startResponder(t *testing.T, opts ResponderOptions) *Responder {
	t.Helper()
	var r *Responder
	err := rtInNamespace(tb.hA, func() error {
		ifi, err := net.InterfaceByName("va")
		if err != nil {
			return err
		}
		r, err = NewResponder(ifi, opts)
		return err
	})
	if r != nil {
		t.Cleanup(func() {
			if err := r.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	if err != nil {
		t.Fatalf("start responder in %s: %v", tb.nsA, err)
	}
	return r
}

// ping sends one echo request from B: enough to make B's kernel resolve or
// probe. Nothing answers it (the address is assigned nowhere).
func (tb *respTestbed) ping(t *testing.T, a netip.Addr) {
	t.Helper()
	_, _ = rtRunErr("ip", "netns", "exec", tb.nsB, "ping", "-n", "-c", "1", "-W", "1", a.String())
}

// poisonNeigh points B's entry for a at another MAC.
func (tb *respTestbed) poisonNeigh(t *testing.T, a netip.Addr) {
	t.Helper()
	rtRun(t, "ip", "-n", tb.nsB, "neigh", "replace", a.String(), "lladdr", "02:4c:32:00:00:99", "dev", "vb", "nud", "stale")
}

// neigh returns B's neighbour entry for a.
func (tb *respTestbed) neigh(t *testing.T, a netip.Addr) (net.HardwareAddr, int, bool) {
	t.Helper()
	fam := netlink.FAMILY_V4
	if a.Is6() {
		fam = netlink.FAMILY_V6
	}
	ns, err := tb.nlB.NeighList(tb.vbIndex, fam)
	if err != nil {
		t.Fatalf("list B's neighbours: %v", err)
	}
	for _, n := range ns {
		if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == a {
			return n.HardwareAddr, n.State, true
		}
	}
	return nil, 0, false
}

// waitNeigh waits until B's entry for a satisfies ok.
func (tb *respTestbed) waitNeigh(t *testing.T, a netip.Addr, what string, ok func(net.HardwareAddr, int) bool) {
	t.Helper()
	rtPoll(t, 10*time.Second, fmt.Sprintf("B's entry for %s: %s", a, what), func() (bool, string) {
		mac, state, found := tb.neigh(t, a)
		return found && ok(mac, state), fmt.Sprintf("found %v, lladdr %v, state %#x", found, mac, state)
	})
}

// sendPairFromB sends two crafted requests from B through a packet socket
// and reads A's replies: the one to the second request's sender (c2) must
// come, and none to the first's (c1) before it.
func (tb *respTestbed) sendPairFromB(t *testing.T, et ethernet.EtherType, c1, c2 net.HardwareAddr, first, second []byte) {
	t.Helper()
	var c *packet.Conn
	err := rtInNamespace(tb.hB, func() error {
		ifi, err := net.InterfaceByName("vb")
		if err != nil {
			return err
		}
		c, err = packet.Listen(ifi, packet.Raw, int(et), nil)
		return err
	})
	if err != nil {
		t.Fatalf("packet socket in B: %v", err)
	}
	defer c.Close()
	for _, f := range [][]byte{first, second} {
		if _, err := c.WriteTo(f, &packet.Addr{HardwareAddr: f[:6]}); err != nil {
			t.Fatalf("send from B: %v", err)
		}
	}
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("%v: no answer to the request sent to A's MAC or broadcast: %v", et, err)
		}
		f := buf[:n]
		if n < 14 || !bytes.Equal(f[6:12], rtOurMAC) {
			continue // B's own frames, or others
		}
		switch {
		case bytes.Equal(f[:6], c1):
			t.Fatalf("%v: A answered a request addressed to another host's MAC", et)
		case bytes.Equal(f[:6], c2):
			return
		}
	}
}

// rtRecorder keeps what the Responder made of each frame it read.
type rtRecorder struct {
	mu  sync.Mutex
	got []rtSeen
}

// rtSeen is a frame the Responder read: its outcome, MACs and, for NDP,
// destination IPv6 address.
type rtSeen struct {
	family         string
	out            rxOutcome
	ethDst, ethSrc string
	ipDst          netip.Addr
}

func (s rtSeen) String() string {
	out := fmt.Sprintf("%s %v from %s to %s", s.family, s.out, s.ethSrc, s.ethDst)
	if s.ipDst.IsValid() {
		out += " (" + s.ipDst.String() + ")"
	}
	return out
}

func (r *rtRecorder) trace(family string, out rxOutcome, f []byte) {
	if len(f) < 14 {
		return
	}
	s := rtSeen{family: family, out: out, ethDst: net.HardwareAddr(f[:6]).String(), ethSrc: net.HardwareAddr(f[6:12]).String()}
	if family == "ndp" && len(f) >= 14+40 {
		s.ipDst = netip.AddrFrom16([16]byte(f[14+24 : 14+40]))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, s)
}

func (r *rtRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = nil
}

func (r *rtRecorder) seen() []rtSeen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rtSeen(nil), r.got...)
}

// from returns the frames read from a source MAC.
func (r *rtRecorder) from(mac net.HardwareAddr) []rtSeen {
	var out []rtSeen
	for _, s := range r.seen() {
		if s.ethSrc == mac.String() {
			out = append(out, s)
		}
	}
	return out
}

// answeredUnicast tells whether a request to our MAC about a was answered:
// for NDP, one sent to a itself.
func (r *rtRecorder) answeredUnicast(a netip.Addr) bool {
	for _, s := range r.seen() {
		if s.out == rxAnswered && s.ethDst == rtOurMAC.String() &&
			(a.Is4() && s.family == "arp" || s.family == "ndp" && s.ipDst == a) {
			return true
		}
	}
	return false
}

// rtPoll polls cond, which also describes what it saw, until it holds or
// timeout passes.
func rtPoll(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last saw: %s", timeout, what, saw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rtRun runs a command, bounded, and fails the test if it fails.
func rtRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := rtRunErr(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func rtRunErr(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

func rtSysctls(t *testing.T, ns string, kvs ...string) {
	t.Helper()
	rtRun(t, "ip", append([]string{"netns", "exec", ns, "sysctl", "-q", "-w"}, kvs...)...)
}

// rtDeleteNamespace ends the processes left in a test namespace (only ours
// run there: the pings, all bounded) and deletes it, which also deletes
// the veth pair.
func rtDeleteNamespace(t *testing.T, ns string) {
	out, _ := rtRunErr("ip", "netns", "pids", ns)
	for _, f := range strings.Fields(out) {
		if pid, err := strconv.Atoi(f); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if out, err := rtRunErr("ip", "netns", "del", ns); err != nil {
		t.Errorf("delete namespace %s: %v\n%s", ns, err, out)
	}
}

// rtSweepStaleNamespaces deletes the namespaces an earlier run of this test
// left behind when it was killed: hl2t-<pid>- with that pid gone.
func rtSweepStaleNamespaces(t *testing.T) {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	re := regexp.MustCompile(`^hl2t-(\d+)-`)
	for _, e := range entries {
		m := re.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if pid == os.Getpid() || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		t.Logf("deleting namespace %s left by an earlier run", e.Name())
		rtDeleteNamespace(t, e.Name())
	}
}
