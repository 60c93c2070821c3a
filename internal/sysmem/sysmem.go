// Package sysmem reads how much memory this process may still use: the
// kernel's MemAvailable and, when the process runs in a memory-limited
// cgroup (a container, a Slurm job), that limit minus the cgroup's usage.
// tinyscale compares its memory estimates with it before building a model.
package sysmem

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Limit is the memory available to the process.
type Limit struct {
	Bytes  int64  // bytes the process may still allocate
	Source string // where the figure comes from, e.g. "MemAvailable" or "cgroup memory.max"
}

// String is e.g. "23.9 GB (MemAvailable)".
func (l Limit) String() string { return FormatBytes(l.Bytes) + " (" + l.Source + ")" }

// Available returns the smallest of MemAvailable and the cgroup's remaining
// memory. It fails only when none can be read (not Linux).
func Available() (Limit, error) { return availableAt("/") }

// availableAt reads the files under root (a test's fake /proc and /sys).
func availableAt(root string) (Limit, error) {
	var best Limit
	var errs []error
	consider := func(b int64, src string) {
		if b >= 0 && (best.Source == "" || b < best.Bytes) {
			best = Limit{Bytes: b, Source: src}
		}
	}
	if b, err := memAvailable(filepath.Join(root, "proc/meminfo")); err == nil {
		consider(b, "MemAvailable")
	} else {
		errs = append(errs, err)
	}
	for _, dir := range cgroupDirs(root) {
		// cgroup v2
		if lim, ok := readLimit(filepath.Join(dir, "memory.max")); ok {
			use, _ := readLimit(filepath.Join(dir, "memory.current"))
			consider(max(lim-use, 0), "cgroup memory.max")
		}
		// cgroup v1
		if lim, ok := readLimit(filepath.Join(dir, "memory.limit_in_bytes")); ok {
			use, _ := readLimit(filepath.Join(dir, "memory.usage_in_bytes"))
			consider(max(lim-use, 0), "cgroup memory.limit_in_bytes")
		}
	}
	if best.Source == "" {
		return Limit{}, fmt.Errorf("available memory unknown: %w", errors.Join(errs...))
	}
	return best, nil
}

// memAvailable parses MemAvailable from /proc/meminfo (in kB).
func memAvailable(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: MemAvailable %q: %w", path, rest, err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no MemAvailable line", path)
}

// cgroupDirs are the memory cgroup directories that may hold this
// process's limit: the namespace root (containers) and the process's own
// cgroup path from /proc/self/cgroup.
func cgroupDirs(root string) []string {
	base := filepath.Join(root, "sys/fs/cgroup")
	dirs := []string{base, filepath.Join(base, "memory")}
	b, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return dirs
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || parts[2] == "/" || parts[2] == "" {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			dirs = append(dirs, filepath.Join(base, parts[2]))
		case strings.Contains(","+parts[1]+",", ",memory,"):
			dirs = append(dirs, filepath.Join(base, "memory", parts[2]))
		}
	}
	return dirs
}

// readLimit reads a cgroup byte count; "max" and the v1 "unlimited" value
// (near 2^63) are reported as absent.
func readLimit(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 || v >= 1<<62 {
		return 0, false
	}
	return v, true
}

// FormatBytes writes n in decimal units with three significant digits:
// 411 GB, 1.23 MB.
func FormatBytes(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB", "EB"}
	v, i := float64(n), 0
	for v >= 999.5 && i < len(units)-1 {
		v /= 1000
		i++
	}
	return strconv.FormatFloat(v, 'g', 3, 64) + " " + units[i]
}
