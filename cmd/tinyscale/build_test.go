package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestBuildVersionNamesTheExecutable: even a `go run` or `go test` build,
// which has no VCS information, gets an identity from the executable's
// sha256, so a resume under changed code is flagged.
func TestBuildVersionNamesTheExecutable(t *testing.T) {
	v := buildVersion()
	if !regexp.MustCompile(` exe:[0-9a-f]{16}$`).MatchString(v) {
		t.Fatalf("buildVersion() = %q, want it to end in exe:<16 hex>", v)
	}
	if v != buildVersion() {
		t.Error("buildVersion changes between calls")
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(a, []byte("binary one"), 0o755)
	os.WriteFile(b, []byte("binary two"), 0o755)
	ia, ib := exeHash(a), exeHash(b)
	if ia == ib || ia == "" || exeHash(a) != ia {
		t.Errorf("exeHash: %q and %q for different files", ia, ib)
	}
	if got := exeHash(filepath.Join(dir, "missing")); got != "" {
		t.Errorf("exeHash of a missing file = %q, want empty", got)
	}
}
