package sweeps

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/tinyscale/tinyscale/data"
)

// TestNewDatasetKeys checks that split and groups reach the runs' data specs
// and that relative paths resolve against the file's directory.
func TestNewDatasetKeys(t *testing.T) {
	src := `
defaults:
  budget: {steps: 10}
  data: mail
  tokenizer: {kind: byte}
datasets:
  mail: {kind: email, path: mail, groups: [ham], split: interleaved}
  pq: {kind: parquet, path: data, field: body}
experiments:
  - name: e
    models: [{family: silia, n_embd: 16}]
`
	f, err := Parse("x.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	f.dir = "testdata"
	runs, err := f.Expand(fixedVocab(256))
	if err != nil {
		t.Fatal(err)
	}
	d := runs[0].Data
	if d.Kind != data.KindEmail || !slices.Equal(d.Groups, []string{"ham"}) || d.Split != data.SplitInterleaved || d.Path != filepath.Join("testdata", "mail") {
		t.Errorf("data spec %+v", d)
	}
	for _, s := range f.Datasets() {
		if s.Name == "pq" && (s.Kind != data.KindParquet || s.Field != "body") {
			t.Errorf("parquet spec %+v", s)
		}
	}
}
