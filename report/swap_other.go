//go:build !linux

package report

import (
	"errors"
	"os"
)

// exchange is not available here: WriteDir falls back to two renames.
func exchange(a, b string) error { return errors.New("atomic exchange not supported") }

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return p.Signal(nil) == nil
}
