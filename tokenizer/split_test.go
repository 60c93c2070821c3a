package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The expected chunks follow the GPT-4 (cl100k) regex semantics.
func TestSplit(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"Hello world", []string{"Hello", " world"}},
		{"hello   world", []string{"hello", "  ", " world"}},
		{"I'm don't we'll they've YOU'RE 'S", []string{"I", "'m", " don", "'t", " we", "'ll", " they", "'ve", " YOU", "'RE", " '", "S"}},
		{"12345678", []string{"123", "456", "78"}},
		{"abc123def", []string{"abc", "123", "def"}},
		{"(x) + y!!", []string{"(x", ")", " +", " y", "!!"}},
		{"hello!!!\n\nok", []string{"hello", "!!!\n\n", "ok"}},
		{"a  \n\n  x", []string{"a", "  \n\n", " ", " x"}},
		{"end   ", []string{"end", "   "}},
		{"x\ty", []string{"x", "\ty"}},
		{"x\n y", []string{"x", "\n", " y"}},
		{"naïve café", []string{"naïve", " café"}},
		{"日本語 テキスト", []string{"日本語", " テキスト"}},
		{"🙂🚀 ok", []string{"🙂🚀", " ok"}},
		{"\r\n\r\n", []string{"\r\n\r\n"}},
		{"x := []int{1, 2}", []string{"x", " :=", " []", "int", "{", "1", ",", " ", "2", "}"}},
		{"'", []string{"'"}},
		{"'hello", []string{"'hello"}},
		{"Ⅻ½", []string{"Ⅻ½"}},
	}
	for _, c := range cases {
		got := Split(c.in)
		if !slices.Equal(got, c.want) {
			t.Errorf("Split(%q) = %q, want %q", c.in, got, c.want)
		}
		if strings.Join(got, "") != c.in {
			t.Errorf("Split(%q) does not concatenate back", c.in)
		}
	}
}

// TestSplitGolden compares Split with the reference GPT-4 pattern run by
// Python's `regex` module on hand-picked and random strings
// (testdata/split_golden.json, written by testdata/gen_split_golden.py).
func TestSplitGolden(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "split_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		In   string   `json:"in"`
		Want []string `json:"want"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 100 {
		t.Fatalf("only %d golden cases", len(cases))
	}
	for _, c := range cases {
		if got := Split(c.In); !slices.Equal(got, c.Want) && !(len(got) == 0 && len(c.Want) == 0) {
			t.Errorf("Split(%q) = %q, want %q", c.In, got, c.Want)
		}
	}
}

// FuzzSplit checks that chunks are non-empty and concatenate to the input.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{"Hello world", "a  \n\n  x", "'S 12345 🙂\r\n", "\xff\xfe x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		chunks := Split(s)
		for _, c := range chunks {
			if c == "" {
				t.Fatalf("empty chunk in Split(%q)", s)
			}
		}
		if strings.Join(chunks, "") != s {
			t.Fatalf("Split(%q) does not concatenate back", s)
		}
	})
}
