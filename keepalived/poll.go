package keepalived

import (
	"context"
	"os"
	"time"
)

// PollChanges nudges (the Supervisor's Changed) whenever the file at path
// looks different — another inode (the speaker renames a new file into
// place), size or modification time — checking every interval until ctx
// ends, when it closes the channel. The first check always nudges. Polling
// a small file once a second costs nothing and, unlike a directory watch,
// survives the directory being replaced; the Supervisor compares contents,
// so a spurious nudge only costs a read.
func PollChanges(ctx context.Context, path string, interval time.Duration) <-chan struct{} {
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		t := time.NewTicker(interval)
		defer t.Stop()
		var last os.FileInfo
		first := true
		for {
			fi, err := os.Stat(path)
			if err != nil {
				fi = nil
			}
			if first || changed(last, fi) {
				select {
				case out <- struct{}{}:
				default: // a nudge is pending already
				}
			}
			first, last = false, fi
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return out
}

func changed(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return (a == nil) != (b == nil)
	}
	return !os.SameFile(a, b) || a.Size() != b.Size() || !a.ModTime().Equal(b.ModTime())
}
