package data

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Compressed-file extensions that every file-reading kind decompresses
// transparently (the extension, not the content, decides).
const (
	extGzip = ".gz"
	extZstd = ".zst"
)

// baseExt returns the extension of name after removing a .gz or .zst suffix,
// lower-cased: "a.jsonl.gz" → ".jsonl".
func baseExt(name string) string {
	lower := strings.ToLower(name)
	lower = strings.TrimSuffix(strings.TrimSuffix(lower, extGzip), extZstd)
	return filepath.Ext(lower)
}

// hasExt returns a directory filter keeping files whose extension (after
// removing .gz or .zst) is one of exts.
func hasExt(exts ...string) func(string) bool {
	return func(name string) bool { return slices.Contains(exts, baseExt(name)) }
}

// openSource opens path for reading, decompressing it when its name ends in
// .gz (gzip) or .zst (Zstandard). Closing the result closes the file.
func openSource(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *fs.PathError: "open PATH: reason"
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case extGzip:
		z, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: not a gzip file: %w", path, err)
		}
		return &stackedCloser{Reader: z, closers: []io.Closer{z, f}}, nil
	case extZstd:
		z, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: zstd: %w", path, err)
		}
		return &stackedCloser{Reader: z, closers: []io.Closer{zstdCloser{z}, f}}, nil
	}
	return f, nil
}

// readSource reads the whole (decompressed) content of path.
func readSource(path string) ([]byte, error) {
	r, err := openSource(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// stackedCloser is a decompressing reader that closes the decompressor and
// then the file.
type stackedCloser struct {
	io.Reader
	closers []io.Closer
}

func (s *stackedCloser) Close() error {
	var errs []error
	for _, c := range s.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// zstdCloser adapts *zstd.Decoder, whose Close returns nothing.
type zstdCloser struct{ d *zstd.Decoder }

func (z zstdCloser) Close() error { z.d.Close(); return nil }

// sourceFiles resolves a Path to a sorted list of regular files: a file is
// taken as it is; a directory is walked recursively, skipping hidden (dot)
// files and directories and keeping the files for which keep (nil: all)
// returns true; anything else is a filepath.Glob pattern whose matching
// regular files are taken. what names the kept files in errors ("*.parquet").
// It fails if no file is found.
func sourceFiles(path string, keep func(name string) bool, what string) ([]string, error) {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.Mode().IsRegular():
		return []string{path}, nil
	case err == nil && fi.IsDir():
		var files []string
		werr := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != path && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil // hidden files (.git, .DS_Store) are not data
			}
			if d.Type().IsRegular() && (keep == nil || keep(d.Name())) {
				files = append(files, p)
			}
			return nil
		})
		if werr != nil {
			return nil, fmt.Errorf("walk %s: %w", path, werr)
		}
		if len(files) == 0 {
			if what != "" {
				return nil, fmt.Errorf("directory %s contains no %s files", path, what)
			}
			return nil, fmt.Errorf("directory %s contains no files", path)
		}
		slices.Sort(files)
		return files, nil
	case err == nil:
		return nil, fmt.Errorf("%s is neither a file nor a directory", path)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if !strings.ContainsAny(path, "*?[") {
		return nil, fmt.Errorf("path %s does not exist", path)
	}
	matches, gerr := filepath.Glob(path)
	if gerr != nil {
		return nil, fmt.Errorf("bad glob %q: %w", path, gerr)
	}
	var files []string
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && fi.Mode().IsRegular() {
			files = append(files, m)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("glob %s matches no files", path)
	}
	slices.Sort(files)
	return files, nil
}

// textFiles resolves a text Path: every file of a directory is text.
func textFiles(path string) ([]string, error) { return sourceFiles(path, nil, "") }

// jsonlFiles resolves a jsonl Path; in a directory only *.jsonl, *.ndjson
// and *.json files (optionally .gz or .zst) are read.
func jsonlFiles(path string) ([]string, error) {
	return sourceFiles(path, hasExt(".jsonl", ".ndjson", ".json"), "*.jsonl, *.ndjson or *.json")
}
