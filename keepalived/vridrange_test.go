package keepalived

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseVRIDPool(t *testing.T) {
	tests := []struct {
		name, rng, excl string
		wantSize        int
		wantIn, wantOut []VRID
		wantErr         string // a substring; "" means no error
	}{
		{name: "defaults", wantSize: 255, wantIn: []VRID{1, 255}},
		{name: "full range", rng: "1-255", wantSize: 255},
		{name: "range", rng: " 100 - 110 ", wantSize: 11, wantIn: []VRID{100, 110}, wantOut: []VRID{99, 111}},
		{name: "one vrid", rng: "42", wantSize: 1, wantIn: []VRID{42}, wantOut: []VRID{41, 43}},
		{name: "exclusions", rng: "1-20", excl: "1-10,15", wantSize: 9, wantIn: []VRID{11, 14, 16, 20}, wantOut: []VRID{1, 10, 15}},
		{name: "exclusions outside the range", rng: "1-5", excl: "200-255", wantSize: 5},
		{name: "blank exclusions", excl: "  ", wantSize: 255},
		{name: "zero", rng: "0-10", wantErr: `vrid range: "0-10": 0 outside 1-255`},
		{name: "too high", rng: "1-256", wantErr: "256 outside 1-255"},
		{name: "reversed", rng: "20-10", wantErr: "first 20 above last 10"},
		{name: "not a number", rng: "a-b", wantErr: `"a" is not a number`},
		{name: "open range", rng: "10-", wantErr: "missing number"},
		{name: "negative", rng: "-5", wantErr: "missing number"},
		{name: "bad exclusions, all named", excl: "1-10,,300", wantErr: "element 2: \"\": missing number"},
		{name: "bad exclusion element 3", excl: "1-10,,300", wantErr: "element 3: \"300\": 300 outside 1-255"},
		{name: "nothing left", rng: "1-10", excl: "1-5,6-10", wantErr: "leaves no VRID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseVRIDPool(tt.rng, tt.excl)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalidVRIDSpec) {
					t.Fatalf("ParseVRIDPool(%q, %q) error = %v, want one containing %q and ErrInvalidVRIDSpec", tt.rng, tt.excl, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseVRIDPool(%q, %q): %v", tt.rng, tt.excl, err)
			}
			if p.Size() != tt.wantSize {
				t.Errorf("Size = %d, want %d", p.Size(), tt.wantSize)
			}
			for _, v := range tt.wantIn {
				if !p.Contains(v) {
					t.Errorf("pool lacks %d", v)
				}
			}
			for _, v := range append(tt.wantOut, 0) {
				if p.Contains(v) {
					t.Errorf("pool has %d", v)
				}
			}
		})
	}
}

func TestVRIDSpanString(t *testing.T) {
	for _, s := range []string{"7", "1-10", "1-255"} {
		span, err := ParseVRIDSpan(s)
		if err != nil {
			t.Fatalf("ParseVRIDSpan(%q): %v", s, err)
		}
		if diff := cmp.Diff(s, span.String()); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}
