package main

import (
	"strings"
	"testing"

	"github.com/herald-lb/herald/controllers"
)

func TestParseUsedForm(t *testing.T) {
	for _, tc := range []struct {
		mode string
		max  int
		want controllers.UsedForm
		err  string
	}{
		{mode: "auto", max: controllers.DefaultUsedMaxBytes, want: controllers.UsedForm{Mode: controllers.UsedAuto, MaxBytes: controllers.DefaultUsedMaxBytes}},
		{mode: "compact", max: 5, want: controllers.UsedForm{Mode: controllers.UsedCompact, MaxBytes: 5}},
		{mode: "full", max: 1, want: controllers.UsedForm{Mode: controllers.UsedFull, MaxBytes: 1}},
		{mode: "short", max: 1, err: "--eip-status-used"},
		{mode: "auto", max: 0, err: "--eip-status-used-max-bytes 0"},
	} {
		f := flags{eipStatusUsed: tc.mode, usedForm: controllers.UsedForm{MaxBytes: tc.max}}
		err := f.parseUsedForm()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s, %d: error %v, want one containing %q", tc.mode, tc.max, err, tc.err)
			}
			continue
		}
		if err != nil || f.usedForm != tc.want {
			t.Errorf("%s, %d: %+v, %v; want %+v", tc.mode, tc.max, f.usedForm, err, tc.want)
		}
	}
}
