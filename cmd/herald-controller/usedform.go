package main

import (
	"fmt"

	"github.com/herald-lb/herald/controllers"
)

// parseUsedForm reads --eip-status-used and its threshold into
// f.usedForm. A bad value stops the controller: falling back to a form
// the operator did not choose would either hide status.used from the
// tools that read it or let large Eips' status writes fail.
func (f *flags) parseUsedForm() error {
	mode, err := controllers.ParseUsedMode(f.eipStatusUsed)
	if err != nil {
		return fmt.Errorf("--eip-status-used: %w", err)
	}
	if f.usedForm.MaxBytes < 1 {
		return fmt.Errorf("--eip-status-used-max-bytes %d: must be at least 1", f.usedForm.MaxBytes)
	}
	f.usedForm.Mode = mode
	return nil
}
