package keepalived

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPollChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keepalived.conf")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nudges := PollChanges(ctx, path, 5*time.Millisecond)

	nudged := func(what string) {
		t.Helper()
		select {
		case <-nudges:
		case <-time.After(5 * time.Second):
			t.Fatalf("no nudge after %s", what)
		}
	}
	quiet := func(what string) {
		t.Helper()
		select {
		case <-nudges:
			t.Fatalf("nudged after %s", what)
		case <-time.After(50 * time.Millisecond): // ten polls
		}
	}
	nudged("the start, even with no file")
	quiet("nothing changed")

	write := func(content string) { // as the speaker does: temp file and rename
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write("A")
	nudged("the file appeared")
	quiet("nothing changed")
	write("A") // same content, new inode: the supervisor compares contents
	nudged("a new file was renamed into place")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	nudged("the file disappeared")

	cancel()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, open := <-nudges:
			if !open {
				return
			}
		case <-deadline:
			t.Fatal("the channel was not closed when ctx ended")
		}
	}
}
