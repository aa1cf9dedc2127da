package bgpconfig

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/herald-lb/herald/api/v1alpha2"
)

func TestParseTimers(t *testing.T) {
	num := func(n uint32) *uint32 { return &n }
	str := func(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
	integer := func(n int) *intstr.IntOrString { v := intstr.FromInt32(int32(n)); return &v }

	tests := []struct {
		name    string
		cfg     *v1alpha2.TimersConfig
		want    Timers
		wantErr string
	}{{
		name: "nil config: nothing set",
	}, {
		name: "empty config: nothing set",
		cfg:  &v1alpha2.TimersConfig{},
	}, {
		name: "OpenELB's strings",
		cfg:  &v1alpha2.TimersConfig{HoldTime: str("90"), KeepaliveInterval: str("30")},
		want: Timers{HoldTime: num(90), KeepaliveInterval: num(30)},
	}, {
		name: "numbers, zeros and leading zeros",
		cfg: &v1alpha2.TimersConfig{ConnectRetry: integer(5), HoldTime: integer(0),
			KeepaliveInterval: str("0"), MinimumAdvertisementInterval: str("030")},
		want: Timers{ConnectRetry: num(5), HoldTime: num(0), KeepaliveInterval: num(0), MinimumAdvertisementInterval: num(30)},
	}, {
		name: "upper bound",
		cfg:  &v1alpha2.TimersConfig{ConnectRetry: str("65535"), HoldTime: integer(65535)},
		want: Timers{ConnectRetry: num(65535), HoldTime: num(65535)},
	}, {
		name:    "not a number",
		cfg:     &v1alpha2.TimersConfig{HoldTime: str("1m30s")},
		wantErr: `spec.timers.config.holdTime: Invalid value: "1m30s"`,
	}, {
		name:    "too large",
		cfg:     &v1alpha2.TimersConfig{ConnectRetry: integer(65536)},
		wantErr: "spec.timers.config.connectRetry: Invalid value: 65536: must be at most 65535",
	}, {
		name:    "keepalive equal to hold time",
		cfg:     &v1alpha2.TimersConfig{HoldTime: str("3"), KeepaliveInterval: integer(3)},
		wantErr: "must be less than holdTime (3)",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTimers(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseTimers() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTimers() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseTimers() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseTimersErrorIsAggregate pins that callers can list the problems
// one by one.
func TestParseTimersErrorIsAggregate(t *testing.T) {
	_, err := ParseTimers(&v1alpha2.TimersConfig{HoldTime: func() *intstr.IntOrString { v := intstr.FromString("x"); return &v }()})
	var agg interface{ Errors() []error }
	if !errors.As(err, &agg) || len(agg.Errors()) != 1 {
		t.Fatalf("ParseTimers() error = %#v, want an aggregate of one error", err)
	}
}
