package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// A lease owner names the process that holds a run:
//
//	host:pid:pidns=INODE:boot=BOOT_ID:start=TICKS
//
// host is os.Hostname; pid the process id as seen in its own PID namespace;
// pidns the inode of /proc/self/ns/pid (which PID namespace the pid belongs
// to: containers on one host have different ones, and often the same
// hostname); boot the kernel's boot id (/proc/sys/kernel/random/boot_id);
// start the process's start time in clock ticks since boot (field 22 of
// /proc/PID/stat), which tells a reused pid from the original process.
// Owners of older versions are "host:pid"; any owner string is accepted by
// the lease methods, and OwnerCertainlyDead decides only on this form.

// ProcessOwner returns the lease owner of the calling process.
func ProcessOwner() string {
	start, _ := procStartTime("self")
	return formatOwner(os.Getpid(), start)
}

// formatOwner is the owner string of process pid (started at start, "" if
// unknown) on this host, in this PID namespace and boot.
func formatOwner(pid int, start string) string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	return fmt.Sprintf("%s:%d:pidns=%s:boot=%s:start=%s", h, pid, pidNamespace(), bootID(), start)
}

// ownerID is a parsed lease owner.
type ownerID struct {
	host        string
	pid         int
	pidns, boot string
	start       string
}

func parseOwner(s string) (ownerID, bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 5 {
		return ownerID{}, false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 {
		return ownerID{}, false
	}
	o := ownerID{host: parts[0], pid: pid}
	for _, kv := range parts[2:] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "pidns":
			o.pidns = v
		case "boot":
			o.boot = v
		case "start":
			o.start = v
		}
	}
	if o.pidns == "" || o.boot == "" || o.start == "" {
		return ownerID{}, false
	}
	return o, true
}

// OwnerCertainlyDead reports whether lease owner names a process that is
// certainly gone: it ran on this host, in this PID namespace, since this
// boot, and its pid now names no process, a zombie, or a process that
// started at another time (the pid was reused). Anything less certain — an
// owner of another host, container (PID namespace) or boot, an owner string
// of an older version, /proc unreadable — is false: the caller must wait
// for the lease to expire instead of taking it over.
func OwnerCertainlyDead(owner string) bool {
	o, ok := parseOwner(owner)
	if !ok {
		return false
	}
	self, ok := parseOwner(ProcessOwner())
	if !ok || o.host != self.host || o.pidns != self.pidns || o.boot != self.boot {
		return false
	}
	if o.pid == os.Getpid() {
		return o.start != self.start
	}
	start, err := procStartTime(strconv.Itoa(o.pid))
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	if err != nil {
		return false
	}
	return start != o.start || procState(strconv.Itoa(o.pid)) == "Z"
}

// pidNamespace is the inode of this process's PID namespace, "" if unknown.
func pidNamespace() string {
	l, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	// "pid:[4026531836]"
	l = strings.TrimPrefix(l, "pid:")
	return strings.Trim(l, "[]")
}

// bootID is the kernel's boot id without dashes, "" if unknown.
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.ReplaceAll(strings.TrimSpace(string(b)), "-", "")
}

// statFields returns the fields of /proc/PID/stat after the command name
// (field 3 onwards), which may itself contain spaces and parentheses.
func statFields(pid string) ([]string, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%s/stat: unexpected format", pid)
	}
	return strings.Fields(s[i+1:]), nil
}

// procStartTime is field 22 of /proc/PID/stat (start time, clock ticks).
func procStartTime(pid string) (string, error) {
	f, err := statFields(pid)
	if err != nil {
		return "", err
	}
	if len(f) < 20 {
		return "", fmt.Errorf("/proc/%s/stat: %d fields", pid, len(f))
	}
	return f[19], nil // fields[0] is field 3 (state)
}

// procState is field 3 of /proc/PID/stat ("R", "S", "Z", ...), "" if unknown.
func procState(pid string) string {
	f, err := statFields(pid)
	if err != nil || len(f) == 0 {
		return ""
	}
	return f[0]
}

// OwnerOfPID returns the lease owner string of the live process pid of this
// host and PID namespace (for tests and tools that claim on behalf of a
// process).
func OwnerOfPID(pid int) (string, error) {
	start, err := procStartTime(strconv.Itoa(pid))
	if err != nil {
		return "", fmt.Errorf("owner of pid %d: %w", pid, err)
	}
	return formatOwner(pid, start), nil
}
