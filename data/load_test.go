package data

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// writeBin writes ids as a nanoGPT little-endian uint16 file.
func writeBin(t *testing.T, path string, ids []uint16) {
	t.Helper()
	b := make([]byte, 2*len(ids))
	for i, id := range ids {
		binary.LittleEndian.PutUint16(b[2*i:], id)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadText(t *testing.T) {
	const (
		c = "Alpha file in a subdirectory — 日本\n" // a/c.txt gains a final newline
		b = "Beta file.\nSecond line ü.\n"
		n = "ignored by the *.txt glob\n"
	)
	hidden := t.TempDir()
	os.WriteFile(filepath.Join(hidden, "x.txt"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(hidden, ".hidden"), []byte("h"), 0o644)
	os.MkdirAll(filepath.Join(hidden, ".git"), 0o755)
	os.WriteFile(filepath.Join(hidden, ".git", "config"), []byte("g"), 0o644)
	cases := []struct {
		name   string
		spec   Spec
		want   string
		nFiles int
	}{
		{"file", Spec{Kind: KindText, Path: "testdata/text/b.txt"}, b, 1},
		{"dir recursive sorted", Spec{Kind: KindText, Path: "testdata/text"}, c + b + n, 3},
		{"glob", Spec{Kind: KindText, Path: "testdata/text/*.txt"}, b, 1},
		{"glob recursive level", Spec{Kind: KindText, Path: "testdata/text/*/*.txt"}, c, 1},
		{"cap in characters", Spec{Kind: KindText, Path: "testdata/text", Tokens: 36}, "Alpha file in a subdirectory — 日本\nBe", 2},
		{"hidden skipped", Spec{Kind: KindText, Path: hidden}, "x\n", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Load(context.Background(), tc.spec, "")
			if err != nil {
				t.Fatal(err)
			}
			if got.Text != tc.want || got.Files != tc.nFiles {
				t.Errorf("got %q (%d files), want %q (%d files)", got.Text, got.Files, tc.want, tc.nFiles)
			}
			if len(got.Hash) != 64 {
				t.Errorf("hash %q", got.Hash)
			}
		})
	}
}

func TestLoadTextInvalidUTF8(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("ok\xffno"), 0o644)
	_, err := Load(context.Background(), Spec{Kind: KindText, Path: dir}, "")
	if err == nil || !strings.Contains(err.Error(), bad+": invalid UTF-8 at byte offset 2") {
		t.Fatalf("error = %v", err)
	}
}

func TestLoadJSONL(t *testing.T) {
	cases := []struct {
		name string
		spec Spec
		want string // text, or error substring when err is set
		err  bool
	}{
		{"default field", Spec{Kind: KindJSONL, Path: "testdata/docs.jsonl"},
			"First document.\nSecond document,\nwith two lines.\nThird: ünïcode ✓\n", false},
		{"cap", Spec{Kind: KindJSONL, Path: "testdata/docs.jsonl", Tokens: 20}, "First document.\nSeco", false},
		{"missing field", Spec{Kind: KindJSONL, Path: "testdata/missing_field.jsonl"},
			`testdata/missing_field.jsonl:2: no field "text"`, true},
		{"other field missing", Spec{Kind: KindJSONL, Path: "testdata/docs.jsonl", Field: "body"},
			`testdata/docs.jsonl:1: no field "body"`, true},
		{"not a string", Spec{Kind: KindJSONL, Path: "testdata/not_string.jsonl"},
			`testdata/not_string.jsonl:2: field "text" is not a string`, true},
		{"invalid UTF-8", Spec{Kind: KindJSONL, Path: "testdata/bad_utf8.jsonl"},
			`testdata/bad_utf8.jsonl:2: invalid UTF-8 at byte offset 13 (text datasets must be UTF-8)`, true},
		{"bad json", Spec{Kind: KindJSONL, Path: "testdata/bad_line.jsonl"},
			"testdata/bad_line.jsonl:2: not a JSON object", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Load(context.Background(), tc.spec, "")
			if tc.err {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error = %v, want containing %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Text != tc.want {
				t.Errorf("got %q, want %q", got.Text, tc.want)
			}
		})
	}
}

func TestLoadNanoGPT(t *testing.T) {
	dir := t.TempDir()
	writeBin(t, filepath.Join(dir, "train.bin"), []uint16{5, 1, 65000, 3, 4, 4, 2, 9, 9, 1})
	writeBin(t, filepath.Join(dir, "val.bin"), []uint16{7, 8, 9, 10})
	c, err := Load(context.Background(), Spec{Kind: KindNanoGPT, Path: dir}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.TrainIDs) != 10 || c.TrainIDs[2] != 65000 || len(c.ValIDs) != 4 || c.MaxID != 65000 {
		t.Errorf("train %v val %v max %d", c.TrainIDs, c.ValIDs, c.MaxID)
	}
	// tokens caps train at 4 ids and val at 4·0.2/0.8 = 1 → at least 1.
	c, err = Load(context.Background(), Spec{Kind: KindNanoGPT, Path: dir, Tokens: 4, ValFraction: 0.2}, "")
	if err == nil || !strings.Contains(err.Error(), "need at least 2 each") {
		t.Fatalf("capped load: %v (%+v)", err, c)
	}
	c, err = Load(context.Background(), Spec{Kind: KindNanoGPT, Path: dir, Tokens: 4, ValFraction: 0.5}, "")
	if err != nil || len(c.TrainIDs) != 4 || len(c.ValIDs) != 4 || c.MaxID != 65000 {
		t.Fatalf("capped load: %v %+v", err, c)
	}
	odd := t.TempDir()
	os.WriteFile(filepath.Join(odd, "train.bin"), []byte{1, 2, 3}, 0o644)
	writeBin(t, filepath.Join(odd, "val.bin"), []uint16{1, 2})
	if _, err := Load(context.Background(), Spec{Kind: KindNanoGPT, Path: odd}, ""); err == nil || !strings.Contains(err.Error(), "size 3 is odd") {
		t.Fatalf("odd file: %v", err)
	}
}

func TestLoadGoroot(t *testing.T) {
	c, err := Load(context.Background(), Spec{Kind: KindGoroot, Tokens: 20000}, "")
	if err != nil {
		t.Fatal(err)
	}
	if n := utf8.RuneCountInString(c.Text); n != 20000 {
		t.Errorf("got %d characters, want 20000", n)
	}
	if !strings.Contains(c.Text, "package ") || c.Files == 0 {
		t.Errorf("no Go source loaded (%d files): %.100q", c.Files, c.Text)
	}
}
