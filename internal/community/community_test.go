package community

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	aliases := map[string]string{
		"upstream-only": "64512:100",
		"big":           "large:4200000000:1:2",
		"broken":        "no-export", // a value must be numbers
	}
	tests := []struct {
		in      string
		want    Community
		wantErr string // a phrase of the error; "" for none
		unknown bool   // the error wraps ErrUnknownAlias
	}{
		{in: "65535:65282", want: Community{Standard: 0xFFFFFF02}},
		{in: "0:0", want: Community{}},
		{in: "64512:100", want: Community{Standard: 64512<<16 | 100}},
		{in: "large:1:2:3", want: Community{Large: true, LargeValue: [3]uint32{1, 2, 3}}},
		{in: "large:4294967295:0:4294967295", want: Community{Large: true, LargeValue: [3]uint32{4294967295, 0, 4294967295}}},
		{in: "no-export", want: Community{Standard: 0xFFFFFF01}},
		{in: "no-advertise", want: Community{Standard: 0xFFFFFF02}},
		{in: "no-export-subconfed", want: Community{Standard: 0xFFFFFF03}},
		{in: "no-peer", want: Community{Standard: 0xFFFFFF04}},
		{in: "blackhole", want: Community{Standard: 65535<<16 | 666}},
		{in: "graceful-shutdown", want: Community{Standard: 65535 << 16}},
		{in: "accept-own", want: Community{Standard: 65535<<16 | 1}},
		{in: "llgr-stale", want: Community{Standard: 65535<<16 | 6}},
		{in: "no-llgr", want: Community{Standard: 65535<<16 | 7}},
		{in: "upstream-only", want: Community{Standard: 64512<<16 | 100}},
		{in: "big", want: Community{Large: true, LargeValue: [3]uint32{4200000000, 1, 2}}},
		{in: "65536:1", wantErr: "from 0 to 65535"},
		{in: "1:65536", wantErr: "from 0 to 65535"},
		{in: "4200000000:1", wantErr: "for a 4-byte AS use large"},
		{in: "1:2:3", wantErr: "want <AS>:<value>"},
		{in: "-1:2", wantErr: "from 0 to 65535"},
		{in: " 1:2", wantErr: "from 0 to 65535"},
		{in: "1:", wantErr: "from 0 to 65535"},
		{in: "large:1:2", wantErr: "three numbers"},
		{in: "large:1:2:4294967296", wantErr: "part 3"},
		{in: "large:a:2:3", wantErr: "part 1"},
		{in: "nope", wantErr: `community "nope"`, unknown: true},
		{in: "", unknown: true, wantErr: "unknown"},
		{in: "broken", wantErr: `alias "broken"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in, aliases)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("Parse (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Parse: error %v; want one containing %q", err, tt.wantErr)
			}
			if errors.Is(err, ErrUnknownAlias) != tt.unknown {
				t.Errorf("errors.Is(%v, ErrUnknownAlias) = %v, want %v", err, !tt.unknown, tt.unknown)
			}
		})
	}
}

// TestStringRoundTrips: String gives what ParseValue reads back.
func TestStringRoundTrips(t *testing.T) {
	for _, c := range []Community{
		{Standard: 0xFFFFFF01},
		{Standard: 64512<<16 | 100},
		{Large: true, LargeValue: [3]uint32{4200000000, 0, 7}},
	} {
		back, err := ParseValue(c.String())
		if err != nil {
			t.Fatalf("ParseValue(%q): %v", c.String(), err)
		}
		if diff := cmp.Diff(c, back); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c, diff)
		}
	}
	if got, want := (Community{Standard: 0xFFFFFF02}).String(), "65535:65282"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestParseValueRefusesNames(t *testing.T) {
	if _, err := ParseValue("no-export"); err == nil {
		t.Error("ParseValue(no-export) succeeded; an alias's value must be numbers")
	}
}
