package data

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/tokenizer"
)

// TestCachePermissionsFollowSource: a cache entry holds the whole text of
// its source, so it is no more readable than the source files (a 0600
// training file gives a 0600 entry); an older, looser entry is tightened
// when it is read.
func TestCachePermissionsFollowSource(t *testing.T) {
	text := strings.Repeat("the cat sat on the mat. ", 200)
	tests := []struct {
		name  string
		files map[string]os.FileMode // relative to the dataset directory
		path  string                 // dataset path, relative
		want  os.FileMode
	}{
		{"private file", map[string]os.FileMode{"a.txt": 0o600}, "a.txt", 0o600},
		{"group-readable file", map[string]os.FileMode{"a.txt": 0o640}, "a.txt", 0o640},
		{"world-writable file", map[string]os.FileMode{"a.txt": 0o666}, "a.txt", 0o644},
		{"directory with one private file", map[string]os.FileMode{"d/a.txt": 0o644, "d/b.txt": 0o600}, "d", 0o600},
		{"glob", map[string]os.FileMode{"g/a.txt": 0o640, "g/b.txt": 0o604}, "g/*.txt", 0o600},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for rel, mode := range tc.files {
				p := filepath.Join(dir, rel)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(p, mode); err != nil {
					t.Fatal(err)
				}
			}
			cache := filepath.Join(dir, "cache")
			spec := Spec{Name: "t", Kind: KindText, Path: filepath.Join(dir, tc.path)}
			p, err := Prepare(context.Background(), spec, tokenizer.Spec{Kind: tokenizer.KindChar}, cache)
			if err != nil {
				t.Fatal(err)
			}
			entry := filepath.Join(cache, "prepared", p.Key+".bin")
			if got := mode(t, entry); got != tc.want {
				t.Errorf("cache entry mode %v, want %v", got, tc.want)
			}
			// An entry written by an older tinyscale (0644) is tightened on a hit.
			if err := os.Chmod(entry, 0o644); err != nil {
				t.Fatal(err)
			}
			if p, err = Prepare(context.Background(), spec, tokenizer.Spec{Kind: tokenizer.KindChar}, cache); err != nil || !p.CacheHit {
				t.Fatalf("second Prepare: hit %v, %v", p != nil && p.CacheHit, err)
			}
			if got := mode(t, entry); got != tc.want {
				t.Errorf("after a hit: cache entry mode %v, want %v", got, tc.want)
			}
		})
	}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}
