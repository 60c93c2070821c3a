package data

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// writeParquet writes rows to path with at most perGroup rows per row group.
func writeParquet[T any](t *testing.T, path string, rows []T, perGroup int64, opts ...parquet.WriterOption) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](f, append([]parquet.WriterOption{parquet.MaxRowsPerRowGroup(perGroup)}, opts...)...)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

type storyRow struct {
	ID    int64  `parquet:"id"`
	Text  string `parquet:"text"`
	Label string `parquet:"label,zstd"`
}

func TestLoadParquet(t *testing.T) {
	dir := t.TempDir()
	var rows []storyRow
	var want strings.Builder
	for i := range 7 {
		s := strings.Repeat("ü", i) + "story " + string(rune('a'+i))
		if i == 3 {
			s += "\n" // already ends with a newline: no second one
		}
		rows = append(rows, storyRow{ID: int64(i), Text: s, Label: "x"})
		want.WriteString(strings.TrimSuffix(s, "\n") + "\n")
	}
	writeParquet(t, filepath.Join(dir, "train-00000.parquet"), rows[:5], 2)
	writeParquet(t, filepath.Join(dir, "train-00001.parquet"), rows[5:], 1)
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("skipped"), 0o644)

	// The test files really have several row groups.
	f, _ := os.Open(filepath.Join(dir, "train-00000.parquet"))
	fi, _ := f.Stat()
	pf, err := parquet.OpenFile(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(pf.RowGroups()); n != 3 {
		t.Fatalf("%d row groups, want 3", n)
	}
	f.Close()

	c, err := Load(context.Background(), Spec{Kind: KindParquet, Path: dir}, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Text != want.String() || c.Files != 2 || c.Docs != 7 {
		t.Errorf("got %q (%d files, %d docs), want %q (2 files, 7 docs)", c.Text, c.Files, c.Docs, want.String())
	}
	// Another string column, a glob, and the cap in characters.
	c, err = Load(context.Background(), Spec{Kind: KindParquet, Path: filepath.Join(dir, "*-00001.parquet"), Field: "label"}, "")
	if err != nil || c.Text != "x\nx\n" {
		t.Fatalf("label column: %v %q", err, c.Text)
	}
	c, err = Load(context.Background(), Spec{Kind: KindParquet, Path: dir, Tokens: 15}, "")
	if err != nil || c.Text != "story a\nüstory " {
		t.Fatalf("capped: %v %q", err, c.Text)
	}
}

type dictRow struct {
	Text string `parquet:"text,dict,snappy"`
}

// TestLoadParquetDictPagesV1 reads the layout Hugging Face's pyarrow files
// have: dictionary-encoded, snappy-compressed, data page v1, several pages
// per row group.
func TestLoadParquetDictPagesV1(t *testing.T) {
	var rows []dictRow
	var want strings.Builder
	for i := range 300 {
		s := fmt.Sprintf("document %d of a repeated vocabulary %d", i, i%7)
		rows = append(rows, dictRow{Text: s})
		want.WriteString(s + "\n")
	}
	path := filepath.Join(t.TempDir(), "hf.parquet")
	writeParquet(t, path, rows, 128, parquet.DataPageVersion(1), parquet.PageBufferSize(64))
	f, _ := os.Open(path)
	defer f.Close()
	fi, _ := f.Stat()
	pf, err := parquet.OpenFile(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	pages := pf.RowGroups()[0].ColumnChunks()[0].Pages()
	n := 0
	for {
		p, err := pages.ReadPage()
		if err != nil {
			break
		}
		parquet.Release(p)
		n++
	}
	pages.Close()
	if len(pf.RowGroups()) != 3 || n < 2 {
		t.Fatalf("%d row groups, %d pages in the first: want 3 and several", len(pf.RowGroups()), n)
	}
	c, err := Load(context.Background(), Spec{Kind: KindParquet, Path: path}, "")
	if err != nil || c.Text != want.String() || c.Docs != 300 {
		t.Fatalf("%v: %d docs, text equal %v", err, c.Docs, c.Text == want.String())
	}
}

type nestedRow struct {
	Meta struct {
		Body string `parquet:"body"`
	} `parquet:"meta"`
	Maybe *string `parquet:"maybe,optional"`
}

func TestLoadParquetNestedAndNull(t *testing.T) {
	dir := t.TempDir()
	one := "present"
	rows := []nestedRow{{Maybe: &one}, {}, {Maybe: &one}}
	for i := range rows {
		rows[i].Meta.Body = "body " + string(rune('0'+i))
	}
	path := filepath.Join(dir, "n.parquet")
	writeParquet(t, path, rows, 2)
	c, err := Load(context.Background(), Spec{Kind: KindParquet, Path: path, Field: "meta.body"}, "")
	if err != nil || c.Text != "body 0\nbody 1\nbody 2\n" {
		t.Fatalf("nested: %v %q", err, c.Text)
	}
	c, err = Load(context.Background(), Spec{Kind: KindParquet, Path: path, Field: "maybe"}, "")
	if err != nil || c.Text != "present\npresent\n" || c.Docs != 2 {
		t.Fatalf("nulls skipped: %v %q", err, c.Text)
	}
}

type badRow struct {
	Text int64    `parquet:"text"`
	Tags []string `parquet:"tags,list"`
	Raw  []byte   `parquet:"raw"`
}

func TestLoadParquetErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.parquet")
	writeParquet(t, path, []badRow{{Text: 1, Tags: []string{"a"}, Raw: []byte("ok")}, {Text: 2, Raw: []byte{0xff}}}, 10)
	notParquet := filepath.Join(dir, "junk.parquet")
	os.WriteFile(notParquet, []byte("PAR1 but not really"), 0o644)
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "x.txt"), []byte("x"), 0o644)
	cases := []struct {
		name string
		spec Spec
		want string
	}{
		{"mistyped", Spec{Kind: KindParquet, Path: path}, `bad.parquet: column "text" is INT64, not a string (BYTE_ARRAY)`},
		{"missing", Spec{Kind: KindParquet, Path: path, Field: "body"}, `bad.parquet: no column "body" (columns: text, tags.list.element, raw; set field: to the column holding the text)`},
		{"repeated", Spec{Kind: KindParquet, Path: path, Field: "tags.list.element"}, `column "tags.list.element" is repeated (a list)`},
		{"invalid utf-8", Spec{Kind: KindParquet, Path: path, Field: "raw"}, "bad.parquet: row 2: value is not valid UTF-8"},
		{"not parquet", Spec{Kind: KindParquet, Path: notParquet}, "junk.parquet: not a readable parquet file"},
		{"no parquet files", Spec{Kind: KindParquet, Path: empty}, "contains no *.parquet files"},
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
