package data

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/tokenizer"
)

func TestSplitDocuments(t *testing.T) {
	// Ten documents "d0\n" ... "d9\n".
	var text strings.Builder
	var ends []int
	for i := range 10 {
		fmt.Fprintf(&text, "d%d\n", i)
		ends = append(ends, text.Len())
	}
	cases := []struct {
		split      string
		vf         float64
		train, val string
	}{
		{SplitTail, 0.1, "d0\nd1\nd2\nd3\nd4\nd5\nd6\nd7\nd8\n", "d9\n"},
		{SplitTail, 0.25, "d0\nd1\nd2\nd3\nd4\nd5\nd6\nd7\n", "d8\nd9\n"},
		{SplitInterleaved, 0.1, "d0\nd1\nd2\nd3\nd4\nd5\nd6\nd7\nd8\n", "d9\n"},
		{SplitInterleaved, 0.2, "d0\nd1\nd2\nd3\nd5\nd6\nd7\nd8\n", "d4\nd9\n"},
		{SplitInterleaved, 0.5, "d0\nd2\nd4\nd6\nd8\n", "d1\nd3\nd5\nd7\nd9\n"},
		{SplitTail, 0.01, "d0\nd1\nd2\nd3\nd4\nd5\nd6\nd7\nd8\n", "d9\n"},        // at least one val document
		{SplitInterleaved, 0.99, "d0\n", "d1\nd2\nd3\nd4\nd5\nd6\nd7\nd8\nd9\n"}, // at least one train document
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%v", tc.split, tc.vf), func(t *testing.T) {
			train, val, err := SplitDocuments(text.String(), ends, tc.split, tc.vf)
			if err != nil {
				t.Fatal(err)
			}
			if train != tc.train || val != tc.val {
				t.Errorf("train %q val %q, want %q and %q", train, val, tc.train, tc.val)
			}
		})
	}
	if _, _, err := SplitDocuments("one\n", []int{4}, SplitTail, 0.1); err == nil || !strings.Contains(err.Error(), "needs at least 2 documents, the data has 1") {
		t.Errorf("one document: %v", err)
	}
}

func TestPrepareSplitByDocuments(t *testing.T) {
	dir := t.TempDir()
	for i := range 20 {
		writeFile(t, dir, fmt.Sprintf("%02d.txt", i), strings.Repeat(string(rune('a'+i)), 10+i))
	}
	tok := tokenizer.Spec{Kind: tokenizer.KindByte}
	char, err := Prepare(context.Background(), Spec{Kind: KindText, Path: dir}, tok, "")
	if err != nil {
		t.Fatal(err)
	}
	tail, err := Prepare(context.Background(), Spec{Kind: KindText, Path: dir, Split: SplitTail}, tok, "")
	if err != nil {
		t.Fatal(err)
	}
	inter, err := Prepare(context.Background(), Spec{Kind: KindText, Path: dir, Split: SplitInterleaved}, tok, "")
	if err != nil {
		t.Fatal(err)
	}
	// Characters: the cut falls inside a document. Tail: files 18 and 19
	// whole. Interleaved: files 9 and 19.
	if got, want := string(bytesOf(tail.Val)), strings.Repeat("s", 28)+"\n"+strings.Repeat("t", 29)+"\n"; got != want {
		t.Errorf("tail val %q, want %q", got, want)
	}
	if got, want := string(bytesOf(inter.Val)), strings.Repeat("j", 19)+"\n"+strings.Repeat("t", 29)+"\n"; got != want {
		t.Errorf("interleaved val %q, want %q", got, want)
	}
	if got, want := string(bytesOf(char.Val)), strings.Repeat("s", 10)+"\n"+strings.Repeat("t", 29)+"\n"; got != want {
		t.Errorf("character split val %q, want %q (the last 41 of 410 characters, cutting file 18)", got, want)
	}
	for _, p := range []*Prepared{char, tail, inter} {
		if len(p.Train)+len(p.Val) != len(char.Train)+len(char.Val) {
			t.Errorf("split loses or adds tokens: %d+%d", len(p.Train), len(p.Val))
		}
	}
	if tail.Key == char.Key || inter.Key == tail.Key {
		t.Error("split is not in the cache key")
	}
}

// bytesOf turns byte-tokenizer ids back into bytes.
func bytesOf(ids []int32) []byte {
	b := make([]byte, len(ids))
	for i, id := range ids {
		b[i] = byte(id)
	}
	return b
}

func TestSplitSpec(t *testing.T) {
	// The default split is not written into the spec's JSON, so run hashes
	// and cache keys of existing configurations do not change.
	js, _ := json.Marshal(Spec{Kind: KindText, Path: "x"}.WithDefaults())
	if strings.Contains(string(js), "split") {
		t.Errorf("default spec JSON mentions split: %s", js)
	}
	dir := filepath.Join("testdata", "text")
	cases := []struct {
		spec Spec
		want string
	}{
		{Spec{Kind: KindText, Path: dir, Split: SplitTail}, ""},
		{Spec{Kind: KindJSONL, Path: "testdata/docs.jsonl", Split: SplitInterleaved}, ""},
		{Spec{Name: "d", Kind: KindText, Path: dir, Split: "random"}, `dataset d: unknown split "random" (allowed: interleaved, tail; omit it to split by characters)`},
		{Spec{Name: "d", Kind: KindSynthetic, Generator: GenStories, Split: SplitTail}, `dataset d: split "tail" is not allowed for kind synthetic`},
		{Spec{Name: "d", Kind: KindNanoGPT, Path: dir, Split: SplitTail}, `dataset d: split "tail" is not allowed for kind nanogpt`},
	}
	for _, tc := range cases {
		err := tc.spec.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: error %v, want %q", tc.spec, err, tc.want)
		}
	}
}
