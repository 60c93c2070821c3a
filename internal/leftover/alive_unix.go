//go:build unix

package leftover

import (
	"errors"
	"syscall"
)

// ProcessAlive reports whether a process with this pid exists on this host
// (one we may not signal counts as alive).
func ProcessAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
