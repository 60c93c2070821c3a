package leftover

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestStale(t *testing.T) {
	dir := t.TempDir()
	dead := strconv.Itoa(deadPID(t))
	live := strconv.Itoa(os.Getpid())
	mk := func(name string, folder bool) {
		p := filepath.Join(dir, name)
		var err error
		if folder {
			err = os.Mkdir(p, 0o755)
		} else {
			err = os.WriteFile(p, nil, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	mk(".out.tmp-p"+dead+"-1", true)  // killed writer: stale
	mk(".out.tmp-p"+live+"-2", true)  // running writer: kept
	mk(".out.tmp-old", true)          // no pid (older versions): stale
	mk(".out.tmp-p"+dead+"-3", false) // a file, not a folder: not asked for
	mk("out", true)                   // the output itself
	mk(".other.tmp-p"+dead+"-4", true)

	tests := []struct {
		prefix string
		dirs   bool
		want   []string
	}{
		{".out.tmp-", true, []string{".out.tmp-old", ".out.tmp-p" + dead + "-1"}},
		{".out.tmp-", false, []string{".out.tmp-p" + dead + "-3"}},
		{".none-", true, nil},
	}
	for _, tc := range tests {
		got := Stale(dir, tc.prefix, tc.dirs)
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("Stale(%q, dirs=%v) = %q, want %q", tc.prefix, tc.dirs, got, tc.want)
		}
	}
	if Stale(filepath.Join(dir, "missing"), ".out.tmp-", true) != nil {
		t.Error("an unreadable folder listed entries")
	}
}

func TestProcessAlive(t *testing.T) {
	if !ProcessAlive(os.Getpid()) {
		t.Error("this process is not alive")
	}
	if ProcessAlive(deadPID(t)) || ProcessAlive(0) || ProcessAlive(-1) {
		t.Error("a dead or invalid pid is alive")
	}
}
