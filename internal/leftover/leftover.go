// Package leftover finds the temporary files and folders that a killed
// tinyscale process left beside its output. Writers name them
// "<prefix>p<pid>-<random>"; an entry whose process is gone (or that has no
// pid, as older versions wrote) is a leftover, one whose process still runs
// belongs to a concurrent writer and is kept.
package leftover

import (
	"os"
	"strconv"
	"strings"
)

// Stale lists the names of dir's entries that start with prefix, are folders
// (dirs) or files (!dirs), and whose writing process is gone. An unreadable
// dir lists nothing.
func Stale(dir, prefix string, dirs bool) []string {
	es, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range es {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || e.IsDir() != dirs {
			continue
		}
		if pidPart, ok := strings.CutPrefix(rest, "p"); ok {
			pid, _, _ := strings.Cut(pidPart, "-")
			if n, err := strconv.Atoi(pid); err == nil && ProcessAlive(n) {
				continue // a concurrent writer's
			}
		}
		out = append(out, e.Name())
	}
	return out
}
