//go:build !unix

package leftover

import "os"

// ProcessAlive reports whether a process with this pid exists on this host.
func ProcessAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return p.Signal(nil) == nil
}
