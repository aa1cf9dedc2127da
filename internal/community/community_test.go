package community_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/herald-lb/herald/internal/community"
	"github.com/herald-lb/herald/internal/community/communitytest"
)

// TestParse runs the shared table, which the speaker's tests run too.
func TestParse(t *testing.T) {
	for _, tt := range communitytest.Examples {
		t.Run(tt.In, func(t *testing.T) {
			got, err := community.Parse(tt.In, communitytest.Aliases)
			if tt.WantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if diff := cmp.Diff(tt.Want, got); diff != "" {
					t.Errorf("Parse (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.WantErr) {
				t.Fatalf("Parse: error %v; want one containing %q", err, tt.WantErr)
			}
			if errors.Is(err, community.ErrUnknownAlias) != tt.Unknown {
				t.Errorf("errors.Is(%v, ErrUnknownAlias) = %v, want %v", err, !tt.Unknown, tt.Unknown)
			}
		})
	}
}

// TestStringRoundTrips: String gives what ParseValue reads back.
func TestStringRoundTrips(t *testing.T) {
	for _, c := range []community.Community{
		{Standard: 0xFFFFFF01},
		{Standard: 64512<<16 | 100},
		{Large: true, LargeValue: [3]uint32{4200000000, 0, 7}},
	} {
		back, err := community.ParseValue(c.String())
		if err != nil {
			t.Fatalf("ParseValue(%q): %v", c.String(), err)
		}
		if diff := cmp.Diff(c, back); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c, diff)
		}
	}
	if got, want := (community.Community{Standard: 0xFFFFFF02}).String(), "65535:65282"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestParseValueRefusesNames(t *testing.T) {
	if _, err := community.ParseValue("no-export"); err == nil {
		t.Error("ParseValue(no-export) succeeded; an alias's value must be numbers")
	}
}
