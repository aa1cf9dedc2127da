package benchstat

import (
	"os"
	"testing"
	"time"
)

func TestSpreadAndPercentiles(t *testing.T) {
	if med, lo, hi := Spread([]float64{3, 1, 2, 10}); med != 2.5 || lo != 1 || hi != 10 {
		t.Errorf("Spread = %v %v %v, want 2.5 1 10", med, lo, hi)
	}
	var ds []time.Duration
	for i := 1; i <= 20; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if p := Percentiles(ds); p != [3]time.Duration{10 * time.Millisecond, 19 * time.Millisecond, 20 * time.Millisecond} {
		t.Errorf("Percentiles(1..20 ms) = %v", p)
	}
}

func TestProc(t *testing.T) {
	if _, err := CPUTime(os.Getpid()); err != nil {
		t.Error(err)
	}
	st, err := ProcStatus(os.Getpid())
	if err != nil || st["VmHWM"] <= 0 {
		t.Errorf("ProcStatus: %v, VmHWM %d", err, st["VmHWM"])
	}
}
