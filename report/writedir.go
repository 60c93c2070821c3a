package report

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/tinyscale/tinyscale/internal/leftover"
)

// manifestName is the file, inside a report folder, that lists the files
// the report wrote, one relative path per line after a header line. It
// tells WriteDir which files of a previous report it may replace.
const manifestName = ".tinyscale-report"

const manifestHeader = "tinyscale report files v1"

// WriteDir writes the report into dir so that dir holds, at every moment,
// either the complete previous report or the complete new one:
//
//  1. a previous interrupted WriteDir is recovered (an old report left
//     under a temporary name with no dir is put back) and the temporary
//     folders of dead report processes beside dir are removed;
//  2. dir, when it exists, must be empty or hold a previous report and
//     nothing else: files a user added are never deleted, WriteDir refuses
//     and names them (CheckOutDir);
//  3. the files and a manifest (.tinyscale-report) go to a temporary folder
//     beside dir, `.<dir>.tmp-p<pid>-<random>`;
//  4. the temporary folder and dir are exchanged in one step
//     (renameat2 RENAME_EXCHANGE on Linux; elsewhere, or on a file system
//     without it, two renames, recovered by step 1 if killed between
//     them), then the old report is removed.
func (r *Report) WriteDir(dir string) error { return r.writeDir(dir, nil) }

// writeDir is WriteDir; beforeCleanup, when set (tests), runs after the swap
// and before the old report is removed.
func (r *Report) writeDir(dir string, beforeCleanup func()) error {
	dir = filepath.Clean(dir)
	if err := CheckOutDir(dir); err != nil {
		return err
	}
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	removeStale(parent, base)
	tmp, err := os.MkdirTemp(parent, tmpPrefix(base)+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	defer os.RemoveAll(tmp) // after a swap it holds the old report
	// MkdirTemp makes the folder 0700; a report is meant to be shared.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	names := make([]string, 0, len(r.Files))
	for n := range r.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(tmp, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		if err := os.WriteFile(p, r.Files[n], 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	manifest := manifestHeader + "\n" + strings.Join(names, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(tmp, manifestName), []byte(manifest), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(tmp, dir); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		return nil
	}
	if err := exchange(tmp, dir); err != nil {
		// No atomic exchange here: two renames. Killed between them, the
		// old report waits under old for the next WriteDir (recoverOld).
		old := tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("write report: move old report aside: %w", err)
		}
		if err := os.Rename(tmp, dir); err != nil {
			_ = os.Rename(old, dir)
			return fmt.Errorf("write report: %w", err)
		}
		tmp = old
	}
	if beforeCleanup != nil {
		beforeCleanup()
	}
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("write report: remove old report %s: %w", tmp, err)
	}
	return nil
}

// tmpPrefix is the name prefix of WriteDir's temporary folders for a report
// folder named base; the pid of the writing process follows it.
func tmpPrefix(base string) string { return "." + base + ".tmp-p" }

// removeStale removes the temporary folders beside a report folder left by
// report processes that no longer run (killed part-way), and those of older
// versions (".<base>.tmp-<digits>", no pid).
func removeStale(parent, base string) {
	for _, e := range staleEntries(parent, base) {
		os.RemoveAll(filepath.Join(parent, e))
	}
}

// staleEntries lists the temporary folder names beside base whose process
// is gone.
func staleEntries(parent, base string) []string {
	return leftover.Stale(parent, "."+base+".tmp-", true)
}

// recoverOld puts back an old report left under ".<base>.tmp-*.old" by a
// WriteDir killed between its two renames, when dir is missing. It is a
// no-op when dir exists.
func recoverOld(dir string) error {
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	var best string
	var bestTime int64
	for _, name := range staleEntries(parent, base) {
		if !strings.HasSuffix(name, ".old") {
			continue
		}
		p := filepath.Join(parent, name)
		idx, err := os.ReadFile(filepath.Join(p, "index.html"))
		fi, serr := os.Stat(p)
		if err != nil || serr != nil || !bytes.Contains(idx, []byte(generatorMeta)) {
			continue
		}
		if t := fi.ModTime().UnixNano(); best == "" || t > bestTime {
			best, bestTime = p, t
		}
	}
	if best == "" {
		return nil
	}
	if err := os.Rename(best, dir); err != nil {
		return fmt.Errorf("write report: restore the previous report from %s: %w", best, err)
	}
	return nil
}

// CheckOutDir returns an error when WriteDir would refuse dir: it exists and
// is not a folder, or is neither empty nor a previous report, or holds files
// besides those of the previous report (files a user put there, which
// WriteDir would otherwise delete). It first recovers a previous report
// hidden by an interrupted WriteDir. Callers check it before the (slow) Build.
func CheckOutDir(dir string) error {
	dir = filepath.Clean(dir)
	if err := recoverOld(dir); err != nil {
		return err
	}
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("report output %s exists and is not a folder", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if len(entries) == 0 {
		return nil
	}
	idx, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil || !bytes.Contains(idx, []byte(generatorMeta)) {
		return fmt.Errorf("report output %s exists and does not hold a tinyscale report; choose another --out or remove it", dir)
	}
	ours, err := previousFiles(dir)
	if err != nil {
		return err
	}
	var foreign []string
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel != manifestName && !ours(rel) {
			foreign = append(foreign, rel)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if len(foreign) > 0 {
		sort.Strings(foreign)
		list := foreign
		if len(list) > 5 {
			list = append(list[:5:5], fmt.Sprintf("and %d more", len(foreign)-5))
		}
		return fmt.Errorf("report output %s holds %d files that tinyscale did not write (%s); a new report replaces the whole folder, so move them elsewhere or choose another --out",
			dir, len(foreign), strings.Join(list, ", "))
	}
	return nil
}

// previousFiles returns a test for the relative paths the previous report
// in dir wrote: those of its manifest, or for a report of a version without
// manifest, index.html, report.json and everything under figures/ and tables/.
func previousFiles(dir string) (func(string) bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return func(rel string) bool {
			return rel == "index.html" || rel == "report.json" ||
				strings.HasPrefix(rel, "figures/") || strings.HasPrefix(rel, "tables/")
		}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("write report: %w", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) == 0 || lines[0] != manifestHeader {
		return nil, fmt.Errorf("report output %s: %s is not a tinyscale report manifest; remove it or choose another --out", dir, manifestName)
	}
	set := make(map[string]bool, len(lines))
	for _, l := range lines[1:] {
		set[l] = true
	}
	return func(rel string) bool { return set[rel] }, nil
}
