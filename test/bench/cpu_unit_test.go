package bench

import (
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	line := []byte("4242 (herald (ctl) x) S 17 4242 17 0 -1 4194560 1 0 0 0 250 31 0 0 20 0 9 0 1 2 3\n")
	pid, comm, ppid, cpu, ok := parseStat(line)
	if !ok || pid != 4242 || comm != "herald (ctl) x" || ppid != 17 || cpu != 281*10*time.Millisecond {
		t.Errorf("parseStat = %d %q %d %v %v, want 4242 \"herald (ctl) x\" 17 2.81s true", pid, comm, ppid, cpu, ok)
	}
	if _, _, _, _, ok := parseStat([]byte("garbage")); ok {
		t.Error("parseStat(garbage) ok, want not ok")
	}
}
