package bgpconfig

import (
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// maxTimer is the largest timer in seconds: the hold time travels in a
// 16-bit field of the OPEN message (RFC 4271 §4.2), and the other timers
// share its range so that one rule covers them all.
const maxTimer = 65535

// minHoldTime is the smallest non-zero hold time RFC 4271 §4.2 allows.
const minHoldTime = 3

// Timers are a BgpPeer's session timers in seconds. A nil field was left
// out of the manifest, so the speaker's default applies; a zero HoldTime
// is an explicit request for no keepalives (RFC 4271), which is not the
// same thing.
type Timers struct {
	ConnectRetry                 *uint32
	HoldTime                     *uint32
	KeepaliveInterval            *uint32
	MinimumAdvertisementInterval *uint32
}

// ParseTimers reads the int-or-string timers of a BgpPeer. OpenELB declared
// them as strings ("90"), so both 90 and "90" mean ninety seconds. A nil
// config yields all-nil Timers.
func ParseTimers(cfg *v1alpha2.TimersConfig) (Timers, error) {
	t, errs := parseTimers(field.NewPath("spec", "timers", "config"), cfg)
	if len(errs) > 0 {
		return Timers{}, fmt.Errorf("timers: %w", errs.ToAggregate())
	}
	return t, nil
}

// parseTimers reads each timer and checks the rules that relate them.
func parseTimers(path *field.Path, cfg *v1alpha2.TimersConfig) (Timers, field.ErrorList) {
	if cfg == nil {
		return Timers{}, nil
	}
	var t Timers
	var errs field.ErrorList
	read := func(name string, v *intstr.IntOrString) *uint32 {
		n, err := seconds(path.Child(name), v)
		if err != nil {
			errs = append(errs, err)
		}
		return n
	}
	t.ConnectRetry = read("connectRetry", cfg.ConnectRetry)
	t.HoldTime = read("holdTime", cfg.HoldTime)
	t.KeepaliveInterval = read("keepaliveInterval", cfg.KeepaliveInterval)
	t.MinimumAdvertisementInterval = read("minimumAdvertisementInterval", cfg.MinimumAdvertisementInterval)

	hold, keepalive := t.HoldTime, t.KeepaliveInterval
	if hold != nil && *hold != 0 && *hold < minHoldTime {
		errs = append(errs, field.Invalid(path.Child("holdTime"), raw(cfg.HoldTime),
			"must be 0 (no keepalives) or at least 3 seconds (RFC 4271 §4.2); 90 is usual"))
	}
	if hold != nil && keepalive != nil {
		switch {
		case *hold == 0 && *keepalive != 0:
			errs = append(errs, field.Invalid(path.Child("keepaliveInterval"), raw(cfg.KeepaliveInterval),
				"must be 0 or left out when holdTime is 0, which turns keepalives off (RFC 4271 §4.4)"))
		case *hold >= minHoldTime && *keepalive >= *hold:
			errs = append(errs, field.Invalid(path.Child("keepaliveInterval"), raw(cfg.KeepaliveInterval),
				fmt.Sprintf("must be less than holdTime (%d), or the session expires between keepalives; a third of it (%d) is usual",
					*hold, *hold/3)))
		}
	}
	return t, errs
}

// seconds reads one timer: an integer, or a string of decimal digits.
func seconds(path *field.Path, v *intstr.IntOrString) (*uint32, *field.Error) {
	if v == nil {
		return nil, nil
	}
	const valid = "must be a whole number of seconds from 0 to 65535, written as a number (90) or a string of digits (\"90\")"
	var n uint64
	switch v.Type {
	case intstr.Int:
		if v.IntVal < 0 {
			return nil, field.Invalid(path, v.IntVal, "must not be negative; "+valid)
		}
		n = uint64(v.IntVal)
	case intstr.String:
		if !allDigits(v.StrVal) {
			return nil, field.Invalid(path, v.StrVal, valid)
		}
		var err error
		if n, err = strconv.ParseUint(v.StrVal, 10, 64); err != nil {
			n = maxTimer + 1 // Only overflow fails once every byte is a digit.
		}
	default:
		return nil, field.Invalid(path, raw(v), valid)
	}
	if n > maxTimer {
		return nil, field.Invalid(path, raw(v), "must be at most 65535 seconds (BGP timers are 16-bit)")
	}
	u := uint32(n)
	return &u, nil
}

// raw is the timer as the user wrote it, so that error messages quote
// "90" for a string and 90 for a number.
func raw(v *intstr.IntOrString) any {
	if v.Type == intstr.String {
		return v.StrVal
	}
	return v.IntVal
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
