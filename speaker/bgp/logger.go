package bgp

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/go-logr/logr"
	"github.com/osrg/gobgp/v3/pkg/log"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// gobgpLogger adapts logr to GoBGP's log.Logger, and reads the few log
// lines that say why a session failed into the peer book: GoBGP's API
// reports a session's state but never the reason it is not established,
// and its logs are the only place that reason appears.
//
// GoBGP calls it from its own goroutines while holding its peer locks, so
// it must never call back into the server.
type gobgpLogger struct {
	log  logr.Logger
	book *peerBook
}

var _ log.Logger = (*gobgpLogger)(nil)

// Panic logs and panics: GoBGP calls it on its own logic bugs and does not
// expect it to return.
func (l *gobgpLogger) Panic(msg string, fields log.Fields) {
	l.Error(msg, fields)
	panic("gobgp: " + msg)
}

// Fatal logs and panics, for the same reason as Panic; a panic shows the
// stack, which os.Exit would not.
func (l *gobgpLogger) Fatal(msg string, fields log.Fields) {
	l.Error(msg, fields)
	panic("gobgp: " + msg)
}

func (l *gobgpLogger) Error(msg string, fields log.Fields) {
	l.note(msg, fields)
	l.log.Error(nil, msg, l.keysAndValues(fields)...)
}

func (l *gobgpLogger) Warn(msg string, fields log.Fields) {
	l.note(msg, fields)
	l.emit(1, msg, fields)
}

func (l *gobgpLogger) Info(msg string, fields log.Fields) {
	l.note(msg, fields)
	l.emit(2, msg, fields)
}

func (l *gobgpLogger) Debug(msg string, fields log.Fields) {
	l.note(msg, fields)
	l.emit(4, msg, fields)
}

// SetLevel does nothing: the logr sink decides what is written.
func (l *gobgpLogger) SetLevel(log.LogLevel) {}

// GetLevel says Debug so that GoBGP reports failed connection attempts,
// which it does only at that level; emit drops what the sink does not want.
func (l *gobgpLogger) GetLevel() log.LogLevel { return log.DebugLevel }

func (l *gobgpLogger) emit(v int, msg string, fields log.Fields) {
	if lv := l.log.V(v); lv.Enabled() {
		lv.Info(msg, l.keysAndValues(fields)...)
	}
}

// keysAndValues keeps logr keys constant: GoBGP's Key (the neighbour
// address) becomes "ip", its Topic "topic", and the rest travels as one
// "fields" value.
func (l *gobgpLogger) keysAndValues(fields log.Fields) []any {
	kv := []any{}
	rest := log.Fields{}
	for k, v := range fields {
		switch k {
		case "Key":
			kv = append(kv, "ip", v)
		case "Topic":
			kv = append(kv, "topic", v)
		default:
			rest[k] = v
		}
	}
	if a, ok := neighbour(fields); ok {
		if name := l.book.name(a); name != "" {
			kv = append(kv, "peer", name)
		}
	}
	if len(rest) > 0 {
		kv = append(kv, "fields", rest)
	}
	return kv
}

// note records why a session failed, when the message says so.
func (l *gobgpLogger) note(msg string, fields log.Fields) {
	a, ok := neighbour(fields)
	if !ok {
		return
	}
	if reason := failure(msg, fields); reason != "" {
		l.book.setError(a, reason)
	}
}

// neighbour is the address of the session a log line is about.
func neighbour(fields log.Fields) (netip.Addr, bool) {
	s, ok := fields["Key"].(string)
	if !ok {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	return a, err == nil
}

// failure turns the GoBGP v3.37.0 log lines that explain a failed or lost
// session into words for BgpPeer status; it returns "" for anything else.
func failure(msg string, fields log.Fields) string {
	switch msg {
	case "failed to connect":
		return fmt.Sprintf("cannot connect: %v", fields["Error"])
	case "sent notification", "received notification":
		what := strings.TrimSuffix(msg, " notification") + " NOTIFICATION"
		if e, ok := fields["Data"].(*bgp.MessageError); ok {
			return fmt.Sprintf("%s %s: %s", what, bgp.NewNotificationErrorCode(e.TypeCode, e.SubTypeCode), e.Message)
		}
		code, okc := fields["Code"].(uint8)
		sub, oks := fields["Subcode"].(uint8)
		if !okc || !oks {
			return what
		}
		s := fmt.Sprintf("%s %s", what, bgp.NewNotificationErrorCode(code, sub))
		if r, ok := fields["Communicated-Reason"].(string); ok && r != "" {
			s += fmt.Sprintf(": %q", r)
		}
		return s
	case "hold timer expired":
		return "hold timer expired: no message from the router within the hold time"
	case "Peer Down":
		// A NOTIFICATION was logged just before, in more detail.
		if r := fmt.Sprint(fields["Reason"]); !strings.HasPrefix(r, "notification-") {
			return "session down: " + r
		}
	}
	for _, k := range []string{"Err", "Error"} {
		if err, ok := fields[k]; ok && err != nil {
			return fmt.Sprintf("%s: %v", msg, err)
		}
	}
	return ""
}
