package report

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// deadPID is above Linux's pid_max: no process has it.
const deadPID = 2147483646

func testReport(body string) *Report {
	return &Report{Files: map[string][]byte{
		"index.html":         []byte(generatorMeta + body),
		"tables/runs.md":     []byte("runs " + body),
		"figures/loss.png":   []byte("png " + body),
		"figures/loss.svg":   []byte("svg " + body),
		"tables/headline.md": []byte("headline " + body),
	}}
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestWriteDirReplacesAtomically: at the moment the old report is being
// removed, the folder already holds the complete new one (the swap is one
// step), and nothing is left beside it afterwards.
func TestWriteDirReplacesAtomically(t *testing.T) {
	parent := t.TempDir()
	out := filepath.Join(parent, "rep")
	if err := testReport("one").WriteDir(out); err != nil {
		t.Fatal(err)
	}
	r := testReport("two")
	checked := false
	hook := func() {
		checked = true
		b, err := os.ReadFile(filepath.Join(out, "index.html"))
		if err != nil || !strings.HasSuffix(string(b), "two") {
			t.Errorf("during the swap the folder holds %q, %v; want the new report", b, err)
		}
	}
	if err := r.writeDir(out, hook); err != nil {
		t.Fatal(err)
	}
	if !checked {
		t.Error("cleanup hook not called")
	}
	if got := entries(t, parent); len(got) != 1 || got[0] != "rep" {
		t.Errorf("beside the report: %v", got)
	}
}

// TestWriteDirRecoversFromKill: a report killed part-way leaves either a
// stale temporary folder (cleaned by the next report) or, killed between
// the two renames of the fallback swap, the old report under a temporary
// name with no folder at all: the next report (and CheckOutDir) puts it
// back first, so its user files are checked as usual.
func TestWriteDirRecoversFromKill(t *testing.T) {
	t.Run("stale temporary folders", func(t *testing.T) {
		parent := t.TempDir()
		out := filepath.Join(parent, "rep")
		if err := testReport("one").WriteDir(out); err != nil {
			t.Fatal(err)
		}
		stale := []string{".rep.tmp-p2147483646-123", ".rep.tmp-4567", ".rep.tmp-p2147483646-9.old"}
		for _, s := range stale {
			mustWrite(t, filepath.Join(parent, s, "index.html"), generatorMeta)
		}
		live := ".rep.tmp-p" + itoa(os.Getpid()) + "-77" // a concurrent report of a live process
		mustWrite(t, filepath.Join(parent, live, "index.html"), generatorMeta)
		if err := testReport("two").WriteDir(out); err != nil {
			t.Fatal(err)
		}
		got := entries(t, parent)
		if len(got) != 2 || got[0] != live || got[1] != "rep" {
			t.Errorf("beside the report: %v, want only the live process's %s", got, live)
		}
	})
	t.Run("killed between the renames", func(t *testing.T) {
		parent := t.TempDir()
		out := filepath.Join(parent, "rep")
		if err := testReport("one").WriteDir(out); err != nil {
			t.Fatal(err)
		}
		hidden := filepath.Join(parent, ".rep.tmp-p2147483646-5.old")
		if err := os.Rename(out, hidden); err != nil {
			t.Fatal(err)
		}
		if err := CheckOutDir(out); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(out, "index.html")); err != nil || !strings.HasSuffix(string(b), "one") {
			t.Fatalf("old report not restored: %q %v", b, err)
		}
		if err := testReport("two").WriteDir(out); err != nil {
			t.Fatal(err)
		}
		if got := entries(t, parent); len(got) != 1 {
			t.Errorf("beside the report: %v", got)
		}
	})
}

// TestWriteDirKeepsUserFiles: files a user put in a previous report's
// folder are never deleted: WriteDir (and CheckOutDir, before the slow
// build) refuse, naming them.
func TestWriteDirKeepsUserFiles(t *testing.T) {
	for _, withManifest := range []bool{true, false} {
		name := "manifest"
		if !withManifest {
			name = "report of an older version (no manifest)"
		}
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "rep")
			if err := testReport("one").WriteDir(out); err != nil {
				t.Fatal(err)
			}
			if !withManifest {
				if err := os.Remove(filepath.Join(out, manifestName)); err != nil {
					t.Fatal(err)
				}
			}
			mustWrite(t, filepath.Join(out, "notes.txt"), "my notes")
			mustWrite(t, filepath.Join(out, "drafts", "fig.tex"), "draft")
			for _, err := range []error{CheckOutDir(out), testReport("two").WriteDir(out)} {
				if err == nil || !strings.Contains(err.Error(), "2 files that tinyscale did not write (drafts/fig.tex, notes.txt)") {
					t.Errorf("err %v", err)
				}
			}
			if b, _ := os.ReadFile(filepath.Join(out, "notes.txt")); string(b) != "my notes" {
				t.Error("user file lost")
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
