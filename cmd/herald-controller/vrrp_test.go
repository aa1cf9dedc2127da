package main

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/herald-lb/herald/keepalived"
)

// TestVRRPFlags: the VRID range flags parse into the pool the controllers
// and the webhook get, and a bad value is refused with an error that names
// the flag and what is wrong.
func TestVRRPFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		size    int
		has     []keepalived.VRID
		hasNot  []keepalived.VRID
		wantErr []string // phrases of the error; nil when accepted
	}{
		{name: "defaults: 1-255, nothing excluded", size: 255, has: []keepalived.VRID{1, 255}},
		{name: "a range with exclusions", args: []string{"--vrrp-vrid-range=1-100", "--vrrp-vrid-exclude=1-10,50"},
			size: 89, has: []keepalived.VRID{11, 49, 51, 100}, hasNot: []keepalived.VRID{1, 10, 50, 101}},
		{name: "a range out of bounds", args: []string{"--vrrp-vrid-range=0-300"},
			wantErr: []string{"--vrrp-vrid-range", `"0-300"`, "outside 1-255"}},
		{name: "a reversed range", args: []string{"--vrrp-vrid-range=20-10"},
			wantErr: []string{"--vrrp-vrid-range", "first 20 above last 10"}},
		{name: "a bad exclusion", args: []string{"--vrrp-vrid-exclude=1-10,x"},
			wantErr: []string{"--vrrp-vrid-exclude", `"1-10,x"`, "not a number"}},
		{name: "exclusions that leave nothing", args: []string{"--vrrp-vrid-range=5-6", "--vrrp-vrid-exclude=5,6"},
			wantErr: []string{"leaves no VRID"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("herald-controller", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var f flags
			bindVRRPFlags(fs, &f)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := f.parseVRRP()
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("accepted; want an error containing %q", tt.wantErr)
				}
				if !errors.Is(err, keepalived.ErrInvalidVRIDSpec) {
					t.Errorf("error %v does not wrap keepalived.ErrInvalidVRIDSpec", err)
				}
				for _, phrase := range tt.wantErr {
					if !strings.Contains(err.Error(), phrase) {
						t.Errorf("error %q does not contain %q", err, phrase)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := f.vridPool.Size(); got != tt.size {
				t.Errorf("pool size %d, want %d", got, tt.size)
			}
			for _, v := range tt.has {
				if !f.vridPool.Contains(v) {
					t.Errorf("pool lacks VRID %d", v)
				}
			}
			for _, v := range tt.hasNot {
				if f.vridPool.Contains(v) {
					t.Errorf("pool holds VRID %d", v)
				}
			}
		})
	}
}
