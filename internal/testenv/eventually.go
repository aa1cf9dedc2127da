package testenv

import (
	"fmt"
	"testing"
	"time"
)

// PollInterval is how often Eventually checks its condition.
const PollInterval = 50 * time.Millisecond

// Eventually polls cond every PollInterval until it returns nil or within
// has passed, then fails tb with cond's last error: the bounded polling
// every test waiting on the API server or the network uses instead of a
// fixed sleep.
func Eventually(tb testing.TB, within time.Duration, cond func() error) {
	tb.Helper()
	if err := Poll(within, cond); err != nil {
		tb.Fatal(err)
	}
}

// Poll is Eventually for a caller that has a fallback: it returns cond's
// last error, saying it was not met within the bound, instead of failing
// the test.
func Poll(within time.Duration, cond func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s: %w", within, err)
		}
		time.Sleep(PollInterval)
	}
}
