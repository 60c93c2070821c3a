package data

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
)

// parquetFiles resolves a parquet Path; in a directory only *.parquet files
// are read.
func parquetFiles(path string) ([]string, error) {
	return sourceFiles(path, func(name string) bool {
		return strings.HasSuffix(strings.ToLower(name), ".parquet")
	}, "*.parquet")
}

// loadParquet reads the string column spec.Field of every row of every file,
// one document per row. It streams: one row group's column chunk, one page
// at a time, is in memory; the other columns are never read.
func loadParquet(ctx context.Context, spec Spec) (*Corpus, error) {
	files, err := parquetFiles(spec.Path)
	if err != nil {
		return nil, err
	}
	return readFieldFiles(ctx, files, spec, readParquetFile)
}

// parquetColumn finds the leaf column named field (a top-level name, or a
// dotted path into nested groups) and checks that it holds one string per
// row.
func parquetColumn(path string, schema *parquet.Schema, field string) (parquet.LeafColumn, error) {
	leaf, ok := schema.Lookup(field)
	if !ok && strings.Contains(field, ".") {
		leaf, ok = schema.Lookup(strings.Split(field, ".")...)
	}
	if !ok {
		var cols []string
		for _, c := range schema.Columns() {
			cols = append(cols, strings.Join(c, "."))
		}
		return leaf, fmt.Errorf("%s: no column %q (columns: %s; set field: to the column holding the text)", path, field, strings.Join(cols, ", "))
	}
	if k := leaf.Node.Type().Kind(); k != parquet.ByteArray {
		return leaf, fmt.Errorf("%s: column %q is %s, not a string (BYTE_ARRAY)", path, field, k)
	}
	if leaf.MaxRepetitionLevel > 0 {
		return leaf, fmt.Errorf("%s: column %q is repeated (a list); want one string per row", path, field)
	}
	return leaf, nil
}

// readParquetFile adds column field of each row of path to tb, row group by
// row group, until tb is full. Null values are skipped; a value that is not
// UTF-8 is an error naming the file and row.
func readParquetFile(ctx context.Context, path, field string, tb *textBuilder) error {
	f, err := os.Open(path)
	if err != nil {
		return err // *fs.PathError: "open PATH: reason"
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	pf, err := parquet.OpenFile(f, fi.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return fmt.Errorf("%s: not a readable parquet file: %w", path, err)
	}
	leaf, err := parquetColumn(path, pf.Schema(), field)
	if err != nil {
		return err
	}
	values := make([]parquet.Value, 256)
	row := int64(0)
	for _, rg := range pf.RowGroups() {
		if tb.full() {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := readParquetChunk(rg.ColumnChunks()[leaf.ColumnIndex], path, field, values, &row, tb); err != nil {
			return err
		}
	}
	return nil
}

// readParquetChunk reads one column chunk page by page into tb; row counts
// the values read so far in the file (for errors).
func readParquetChunk(chunk parquet.ColumnChunk, path, field string, values []parquet.Value, row *int64, tb *textBuilder) error {
	pages := chunk.Pages()
	defer pages.Close()
	for !tb.full() {
		page, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: column %q: %w", path, field, err)
		}
		err = readParquetPage(page, path, values, row, tb)
		parquet.Release(page)
		if err != nil {
			return err
		}
	}
	return nil
}

func readParquetPage(page parquet.Page, path string, values []parquet.Value, row *int64, tb *textBuilder) error {
	r := page.Values()
	for !tb.full() {
		n, err := r.ReadValues(values)
		for _, v := range values[:n] {
			*row++
			if v.IsNull() {
				continue
			}
			b := v.ByteArray()
			if !utf8.Valid(b) {
				return fmt.Errorf("%s: row %d: value is not valid UTF-8", path, *row)
			}
			tb.add(string(b))
			if tb.full() {
				return nil
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: row %d: %w", path, *row+1, err)
		}
	}
	return nil
}
