package keepalived

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// State is a VRRP instance's state as keepalived reports it on notify_fifo.
type State string

// The states keepalived reports: MASTER holds the VIP; BACKUP and FAULT (a
// Local VIP without a ready endpoint, or the interface down) do not; STOP
// is written when keepalived stops, DELETED when a reload removed the
// instance (Render sets notify_deleted, or keepalived would report FAULT
// and a removed VIP would look like a Local one without endpoints).
const (
	StateMaster  State = "MASTER"
	StateBackup  State = "BACKUP"
	StateFault   State = "FAULT"
	StateStop    State = "STOP"
	StateDeleted State = "DELETED"
)

// Notification is one state change of one VIP's instance on this node; the
// speaker turns MASTER into the Service's holder annotation, events and
// metrics.
type Notification struct {
	// VIP is the instance's address (ParseInstanceName).
	VIP netip.Addr
	// State is the state the instance entered.
	State State
	// Priority is the instance's effective priority, as keepalived reports
	// it.
	Priority int
}

// ErrNotOurs marks a notify_fifo line about something Herald did not
// render (a sync group, an instance with another name): skipped, not an
// error to report.
var ErrNotOurs = errors.New("not a Herald instance")

// ParseNotification reads one notify_fifo line, e.g.
// `INSTANCE "vip_192.0.2.1" MASTER 254`.
func ParseNotification(line string) (Notification, error) {
	kind, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	if kind != "INSTANCE" {
		return Notification{}, fmt.Errorf("%q: %w", line, ErrNotOurs)
	}
	if !strings.HasPrefix(rest, `"`) {
		return Notification{}, fmt.Errorf("%q: instance name not quoted", line)
	}
	name, rest, ok := strings.Cut(rest[1:], `" `)
	if !ok {
		return Notification{}, fmt.Errorf("%q: no state", line)
	}
	vip, ours := ParseInstanceName(name)
	if !ours {
		return Notification{}, fmt.Errorf("%q: %w", line, ErrNotOurs)
	}
	fields := strings.Fields(rest)
	if len(fields) != 2 {
		return Notification{}, fmt.Errorf("vip %s: %q: want a state and a priority", vip, line)
	}
	prio, err := strconv.Atoi(fields[1])
	if err != nil || prio < 0 || prio > 255 {
		return Notification{}, fmt.Errorf("vip %s: %q: bad priority", vip, line)
	}
	switch s := State(fields[0]); s {
	case StateMaster, StateBackup, StateFault, StateStop, StateDeleted:
		return Notification{VIP: vip, State: s, Priority: prio}, nil
	default:
		return Notification{}, fmt.Errorf("vip %s: %q: unknown state %q", vip, line, s)
	}
}

// ReadNotifications calls fn for every line of r about a Herald instance
// until r ends or fails; lines it cannot parse go to bad (nil drops them).
// With the FIFO from OpenNotifyFIFO, it returns once the file is closed.
func ReadNotifications(r io.Reader, fn func(Notification), bad func(error)) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		n, err := ParseNotification(sc.Text())
		switch {
		case err == nil:
			fn(n)
		case errors.Is(err, ErrNotOurs):
		case bad != nil:
			bad(err)
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, fs.ErrClosed) {
		return fmt.Errorf("read notify fifo: %w", err)
	}
	return nil
}

// OpenNotifyFIFO creates the FIFO at path if it is missing and opens it
// read-write. keepalived closes and reopens its end on every reload; a
// read-only reader would see end-of-file each time, while holding a writer
// ourselves keeps the reader waiting for the next line instead. Closing the
// file ends ReadNotifications.
func OpenNotifyFIFO(path string) (*os.File, error) {
	if err := syscall.Mkfifo(path, 0o600); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("notify fifo %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("notify fifo %s: %w", path, err)
	}
	if fi.Mode()&fs.ModeNamedPipe == 0 {
		return nil, fmt.Errorf("notify fifo %s: exists and is not a FIFO", path)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("notify fifo %s: %w", path, err)
	}
	return f, nil
}
