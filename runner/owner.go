package runner

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// deadLocalOwner reports whether lease owner "host:pid" names a process of
// this machine (same host as self) that no longer exists.
func deadLocalOwner(owner, self string) bool {
	host, pidStr, ok := cut2(owner)
	selfHost, _, ok2 := cut2(self)
	if !ok || !ok2 || host != selfHost {
		return false
	}
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	err = syscall.Kill(pid, 0)
	return errors.Is(err, syscall.ESRCH)
}

// cut2 splits "host:pid" at the last colon.
func cut2(s string) (string, string, bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}
