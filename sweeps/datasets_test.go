package sweeps

import (
	"path/filepath"
	"slices"
	"strings"
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

// TestCorpusExamplesParse checks that the npm corpus examples are valid
// experiments files (their data is installed by the user, so only the specs
// are checked here).
func TestCorpusExamplesParse(t *testing.T) {
	for file, want := range map[string]data.Spec{
		"sotu.yaml":          {Kind: data.KindText, Split: data.SplitInterleaved},
		"spam-assassin.yaml": {Kind: data.KindEmail, Split: data.SplitInterleaved, Groups: []string{"ham"}},
	} {
		f, err := Load(filepath.Join("..", "examples", file))
		if err != nil {
			t.Fatal(err)
		}
		var got *data.Spec
		for _, s := range f.Datasets() {
			if s.Kind == want.Kind {
				got = &s
			}
		}
		if got == nil || got.Split != want.Split || !slices.Equal(got.Groups, want.Groups) || !strings.Contains(got.Path, "corpora/node_modules/@stdlib/") {
			t.Errorf("%s: datasets %+v, want one like %+v", file, f.Datasets(), want)
		}
	}
}
