package rig

import (
	"context"
	"fmt"
	"time"
)

// Eventually calls check every interval until it returns nil, for at most
// timeout (and at most timeout/interval+1 times), or until ctx ends. The
// error of a timeout carries check's last error, which says what was still
// wrong. It is the only way the rig waits: no fixed sleeps.
func Eventually(ctx context.Context, timeout, interval time.Duration, check func(context.Context) error) error {
	if interval <= 0 {
		interval = 10 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	maxTries := int(timeout/interval) + 1
	start := time.Now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var last error
	for try := 1; try <= maxTries; try++ {
		err := check(ctx)
		if err == nil {
			return nil
		}
		// A check cut short by the deadline says less than the one
		// before it about what was still wrong.
		if last == nil || ctx.Err() == nil {
			last = err
		} else {
			last = fmt.Errorf("%w (interrupted by the deadline: %v)", last, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not within %v (%d tries): %w", time.Since(start).Round(time.Millisecond), try, last)
		case <-tick.C:
		}
	}
	return fmt.Errorf("not within %v (%d tries): %w", time.Since(start).Round(time.Millisecond), maxTries, last)
}
