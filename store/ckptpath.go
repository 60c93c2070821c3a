package store

import (
	"os"
	"path/filepath"
	"strings"
)

// Checkpoint paths are recorded relative to the directory of the database
// file, in slash form (e.g. "results.db.ckpt/run-1a2b3c4d/step-000000100.ckpt"),
// so that a run resumes from any working directory, after the results folder
// is moved, and on another node that mounts the folder elsewhere.
// RecordCheckpoint converts the path it is given; Checkpoints resolves the
// recorded one back to a path usable from this process. Records written by
// older versions (absolute paths, or paths relative to the working directory
// of the process that wrote them) are still found: see resolveCheckpointPath.

// baseDir returns the absolute directory of the database file.
func (d *DB) baseDir() string {
	dir := filepath.Dir(d.path)
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// recordedCheckpointPath is the form of checkpoint file p stored in the
// database: relative to the database's directory when p can be expressed
// so, else absolute.
func (d *DB) recordedCheckpointPath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	rel, err := filepath.Rel(d.baseDir(), abs)
	if err != nil {
		return abs
	}
	return filepath.ToSlash(rel)
}

// ResolveCheckpointPath turns a recorded checkpoint path into one that opens
// from this process. In order of preference:
//   - a relative record (the current form) joined to the database's directory;
//   - an absolute record as it is (older versions);
//   - a relative record as it is, relative to the working directory (older
//     versions recorded paths relative to the writer's working directory);
//   - for a record that names the database's checkpoint folder
//     ("<db file name>.ckpt/..."), the part from that folder on, joined to the
//     database's directory (an old record after the folder was moved).
//
// The first candidate that exists is returned; when none does, the first
// candidate is (so the caller's error names where the file should be).
func (d *DB) ResolveCheckpointPath(rec string) string {
	return resolveCheckpointPath(d.baseDir(), filepath.Base(d.path), rec)
}

func resolveCheckpointPath(baseDir, dbName, rec string) string {
	p := filepath.FromSlash(rec)
	var cands []string
	if filepath.IsAbs(p) {
		cands = append(cands, p)
	} else {
		cands = append(cands, filepath.Join(baseDir, p), p)
	}
	parts := strings.Split(filepath.ToSlash(p), "/")
	for i, part := range parts {
		if part == dbName+".ckpt" {
			cands = append(cands, filepath.Join(baseDir, filepath.FromSlash(strings.Join(parts[i:], "/"))))
			break
		}
	}
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	return cands[0]
}
