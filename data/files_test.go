package data

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// writeFile writes content to dir/name (creating parent directories),
// compressing it with gzip or zstd when name ends in .gz or .zst.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	b := []byte(content)
	switch filepath.Ext(name) {
	case ".gz":
		var buf bytes.Buffer
		z := gzip.NewWriter(&buf)
		z.Write(b)
		if err := z.Close(); err != nil {
			t.Fatal(err)
		}
		b = buf.Bytes()
	case ".zst":
		z, err := zstd.NewWriter(nil)
		if err != nil {
			t.Fatal(err)
		}
		b = z.EncodeAll(b, nil)
		z.Close()
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadCompressedAndDirectories(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "text/01-plain.txt", "plain one")
	writeFile(t, dir, "text/02-gzip.txt.gz", "gzip two ü\n")
	writeFile(t, dir, "text/03-zstd.txt.zst", "zstd three 日本")
	writeFile(t, dir, "jl/a.jsonl.gz", `{"text":"gz doc 1"}`+"\n"+`{"text":"gz doc 2\n"}`+"\n")
	writeFile(t, dir, "jl/b.jsonl.zst", `{"text":"zst doc"}`)
	writeFile(t, dir, "jl/c.jsonl", `{"text":"plain doc"}`+"\n\n")
	writeFile(t, dir, "jl/README.md", "not jsonl: skipped in a directory")
	writeFile(t, dir, "jl/sub/d.ndjson", `{"text":"nested"}`)
	cases := []struct {
		name        string
		spec        Spec
		want        string
		files, docs int
	}{
		{"text dir mixed compression", Spec{Kind: KindText, Path: filepath.Join(dir, "text")},
			"plain one\ngzip two ü\nzstd three 日本\n", 3, 3},
		{"text glob gz only", Spec{Kind: KindText, Path: filepath.Join(dir, "text", "*.gz")}, "gzip two ü\n", 1, 1},
		{"text single zst", Spec{Kind: KindText, Path: filepath.Join(dir, "text", "03-zstd.txt.zst")}, "zstd three 日本\n", 1, 1},
		{"jsonl dir sorted, README skipped", Spec{Kind: KindJSONL, Path: filepath.Join(dir, "jl")},
			"gz doc 1\ngz doc 2\nzst doc\nplain doc\nnested\n", 4, 5},
		{"jsonl glob", Spec{Kind: KindJSONL, Path: filepath.Join(dir, "jl", "*.jsonl*")},
			"gz doc 1\ngz doc 2\nzst doc\nplain doc\n", 3, 4},
		{"jsonl single gz", Spec{Kind: KindJSONL, Path: filepath.Join(dir, "jl", "a.jsonl.gz")}, "gz doc 1\ngz doc 2\n", 1, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(context.Background(), tc.spec, "")
			if err != nil {
				t.Fatal(err)
			}
			if c.Text != tc.want || c.Files != tc.files || c.Docs != tc.docs {
				t.Errorf("got %q (%d files, %d docs), want %q (%d files, %d docs)", c.Text, c.Files, c.Docs, tc.want, tc.files, tc.docs)
			}
		})
	}
}

func TestLoadCompressedErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "fake.txt.gz"), []byte("not gzip at all"), 0o644)
	os.WriteFile(filepath.Join(dir, "fake.jsonl.zst"), []byte("not zstd at all"), 0o644)
	badUTF8 := writeFile(t, dir, "bad.txt.gz", "ok\xffno")
	writeFile(t, dir, "lines.jsonl.gz", `{"text":"a"}`+"\n"+`{"body":"b"}`+"\n")
	empty := t.TempDir()
	writeFile(t, empty, "notes.md", "x")
	cases := []struct {
		name string
		spec Spec
		want string
	}{
		{"gzip header", Spec{Kind: KindText, Path: filepath.Join(dir, "fake.txt.gz")}, "fake.txt.gz: not a gzip file"},
		{"zstd frame", Spec{Kind: KindJSONL, Path: filepath.Join(dir, "fake.jsonl.zst")}, "fake.jsonl.zst"},
		{"utf-8 inside gzip", Spec{Kind: KindText, Path: badUTF8}, badUTF8 + ": invalid UTF-8 at byte offset 2"},
		{"jsonl line inside gzip", Spec{Kind: KindJSONL, Path: filepath.Join(dir, "lines.jsonl.gz")}, `lines.jsonl.gz:2: no field "text"`},
		{"jsonl dir without jsonl", Spec{Kind: KindJSONL, Path: empty}, "contains no *.jsonl, *.ndjson or *.json files"},
		{"glob without match", Spec{Kind: KindJSONL, Path: filepath.Join(empty, "*.jsonl")}, "matches no files"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(context.Background(), tc.spec, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want containing %q", err, tc.want)
			}
		})
	}
}

// TestOpenErrorsNameThePathOnce: a file that cannot be opened (gone since
// the dataset was checked, unreadable) is named once: "open X: permission
// denied", not "open X: open X: permission denied".
func TestOpenErrorsNameThePathOnce(t *testing.T) {
	gone := filepath.Join(t.TempDir(), "gone.txt")
	want := "open " + gone + ": no such file or directory"
	if _, err := openSource(gone); err == nil || err.Error() != want {
		t.Errorf("openSource: %v, want %q", err, want)
	}
	if _, _, err := readTokenFile(gone, 0, false); err == nil || err.Error() != want {
		t.Errorf("readTokenFile: %v, want %q", err, want)
	}
}
