package tokenizer

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// unicodeSample mixes scripts, emoji, digits, contractions and whitespace.
const unicodeSample = "Hello, world! It's 2024… naïve café — Ünïcödé 日本語のテキスト 🙂🚀\n" +
	"  indented\tline with   spaces\r\nand CRLF; don't we'll they've 12345678 x=y+1\n\n\n  end  "

func trainAll(t *testing.T, text string) []Tokenizer {
	t.Helper()
	var toks []Tokenizer
	for _, spec := range []Spec{{Kind: KindChar}, {Kind: KindByte}, {Kind: KindBPE, VocabSize: 300}} {
		tok, err := Train(spec, text)
		if err != nil {
			t.Fatalf("Train(%+v): %v", spec, err)
		}
		toks = append(toks, tok)
	}
	return toks
}

func TestRoundTrip(t *testing.T) {
	texts := []string{"", "a", unicodeSample, strings.Repeat("abc ", 50)}
	for _, tok := range trainAll(t, unicodeSample+strings.Repeat("abc ", 50)) {
		for _, s := range texts {
			ids := tok.Encode(s)
			for _, id := range ids {
				if id < 0 || int(id) >= tok.VocabSize() {
					t.Fatalf("%s: id %d out of range [0,%d)", tok.Kind(), id, tok.VocabSize())
				}
			}
			if got := tok.Decode(ids); got != s {
				t.Errorf("%s: round trip of %q = %q", tok.Kind(), s, got)
			}
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	toks := trainAll(t, unicodeSample)
	ids, _ := NewIDs(50304)
	toks = append(toks, ids)
	for _, tok := range toks {
		b, err := tok.MarshalJSON()
		if err != nil {
			t.Fatalf("%s: marshal: %v", tok.Kind(), err)
		}
		back, err := FromJSON(b)
		if err != nil {
			t.Fatalf("%s: FromJSON: %v", tok.Kind(), err)
		}
		if back.Kind() != tok.Kind() || back.VocabSize() != tok.VocabSize() {
			t.Fatalf("%s: got kind %s vocab %d, want vocab %d", tok.Kind(), back.Kind(), back.VocabSize(), tok.VocabSize())
		}
		in := unicodeSample
		if tok.Kind() == KindIDs {
			in = "1 2 50303"
		}
		if !slices.Equal(back.Encode(in), tok.Encode(in)) {
			t.Errorf("%s: encodings differ after JSON round trip", tok.Kind())
		}
		// json.Marshal of the interface value uses MarshalJSON too.
		b2, err := json.Marshal(tok)
		if err != nil || string(b2) != string(b) {
			t.Errorf("%s: json.Marshal differs: %s vs %s (%v)", tok.Kind(), b2, b, err)
		}
	}
}

func TestFromJSONErrors(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"not json", "{", "decode json"},
		{"unknown kind", `{"kind":"wordpiece","version":1}`, `unknown kind "wordpiece"`},
		{"version", `{"kind":"byte","version":7}`, "unsupported format version 7"},
		{"bad merge", `{"kind":"bpe","version":1,"pattern":"gpt4","merges":[[97,300]]}`, "not yet defined"},
		{"dup merge", `{"kind":"bpe","version":1,"pattern":"gpt4","merges":[[97,97],[97,97]]}`, "duplicate"},
		{"pattern", `{"kind":"bpe","version":1,"pattern":"gpt2","merges":[]}`, "unsupported bpe pattern"},
		{"char unsorted", `{"kind":"char","version":1,"runes":"ba"}`, "sorted"},
		{"ids vocab", `{"kind":"ids","version":1,"vocab_size":0}`, "out of range"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := FromJSON([]byte(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("FromJSON(%s) error = %v, want containing %q", c.in, err, c.want)
			}
		})
	}
}

func TestSpecValidate(t *testing.T) {
	cases := []struct {
		spec Spec
		want string // "" = valid
	}{
		{Spec{}, ""},
		{Spec{Kind: KindChar}, ""},
		{Spec{Kind: KindByte}, ""},
		{Spec{Kind: KindBPE}, ""},
		{Spec{Kind: KindBPE, VocabSize: 512}, ""},
		{Spec{Kind: KindIDs, VocabSize: 50304}, ""},
		{Spec{Kind: KindIDs}, ""},
		{Spec{Kind: "gpt2"}, `unknown kind "gpt2" (allowed: bpe, byte, char, ids)`},
		{Spec{Kind: KindChar, VocabSize: 100}, "not allowed for kind \"char\""},
		{Spec{Kind: KindBPE, VocabSize: 100}, "out of range"},
		{Spec{Kind: KindIDs, VocabSize: -1}, "out of range"},
	}
	for _, c := range cases {
		err := c.spec.Validate()
		if c.want == "" && err != nil {
			t.Errorf("%+v: unexpected error %v", c.spec, err)
		}
		if c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: error %v, want containing %q", c.spec, err, c.want)
		}
	}
	if _, err := Train(Spec{Kind: KindIDs}, "x"); err == nil {
		t.Error("Train(ids) should fail")
	}
}

func TestChar(t *testing.T) {
	c := NewChar("hello")
	// runes e,h,l,o → ids 1..4; id 0 is <unk>.
	if c.VocabSize() != 5 {
		t.Fatalf("VocabSize = %d, want 5", c.VocabSize())
	}
	if got := c.Encode("hole!"); !slices.Equal(got, []int32{2, 4, 3, 1, UnkID}) {
		t.Errorf("Encode = %v", got)
	}
	if got := c.Decode([]int32{2, 1, 0, 99}); got != "he\uFFFD\uFFFD" {
		t.Errorf("Decode = %q", got)
	}
}

func TestByte(t *testing.T) {
	if got := (Byte{}).Encode("é"); !slices.Equal(got, []int32{0xc3, 0xa9}) {
		t.Errorf("Encode(é) = %v", got)
	}
	if got := (Byte{}).Decode([]int32{0xc3}); got != "\uFFFD" {
		t.Errorf("Decode(partial rune) = %q", got)
	}
}

func TestIDs(t *testing.T) {
	tok, err := NewIDs(10)
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Decode([]int32{3, 0, 9}); got != "3 0 9" {
		t.Errorf("Decode = %q", got)
	}
	if got := tok.Encode(" 3 x 12 9\n0"); !slices.Equal(got, []int32{3, 9, 0}) {
		t.Errorf("Encode = %v", got)
	}
}

// TestBPEHandExample is minbpe's test: "aaabdaaabac" with 3 merges encodes to
// [258 100 258 97 99]. Ties are broken by the lowest pair, so the second merge
// is (a,b) where minbpe (first seen) picks (256,a); the encoding is the same.
func TestBPEHandExample(t *testing.T) {
	tok, err := TrainBPE("aaabdaaabac", 256+3)
	if err != nil {
		t.Fatal(err)
	}
	wantMerges := [][2]int32{{97, 97}, {97, 98}, {256, 257}}
	if !slices.Equal(tok.Merges(), wantMerges) {
		t.Errorf("merges = %v, want %v", tok.Merges(), wantMerges)
	}
	ids := tok.Encode("aaabdaaabac")
	if want := []int32{258, 100, 258, 97, 99}; !slices.Equal(ids, want) {
		t.Errorf("Encode = %v, want %v", ids, want)
	}
	if got := string(tok.TokenBytes(258)); got != "aaab" {
		t.Errorf("token 258 = %q, want aaab", got)
	}
}

func TestBPEStopsWhenOutOfPairs(t *testing.T) {
	tok, err := TrainBPE("ab ab", 1000)
	if err != nil {
		t.Fatal(err)
	}
	// chunks "ab" and " ab": merges (a,b) then (" ",ab).
	if tok.VocabSize() != 258 {
		t.Errorf("VocabSize = %d, want 258", tok.VocabSize())
	}
}

func TestBPEDeterministicAndConcurrent(t *testing.T) {
	text := strings.Repeat(unicodeSample, 3)
	a, _ := TrainBPE(text, 400)
	b, _ := TrainBPE(text, 400)
	if !slices.Equal(a.Merges(), b.Merges()) {
		t.Fatal("two trainings on the same text differ")
	}
	want := a.Encode(text)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if got := a.Encode(text); !slices.Equal(got, want) {
				t.Error("concurrent Encode differs")
			}
		})
	}
	wg.Wait()
}

// TestBPEMatchesNaive checks the incremental trainer against a direct
// re-count of all pairs after every merge.
func TestBPEMatchesNaive(t *testing.T) {
	sample, err := os.ReadFile(filepath.Join("testdata", "sample.txt"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		text   string
		merges int
	}{
		{"sample", string(sample), 60},
		{"unicode", strings.Repeat(unicodeSample, 4), 80},
		{"go source", goText(t, 20000), 100},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fast, err := TrainBPE(c.text, 256+c.merges)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := fast.Merges(), naiveBPE(c.text, c.merges); !slices.Equal(got, want) {
				t.Errorf("incremental merges differ from naive:\n got %v\nwant %v", got, want)
			}
		})
	}
}

func naiveBPE(text string, n int) [][2]int32 {
	var words [][]int32
	for _, c := range Split(text) {
		w := make([]int32, len(c))
		for i := range len(c) {
			w[i] = int32(c[i])
		}
		words = append(words, w)
	}
	var merges [][2]int32
	for len(merges) < n {
		counts := map[uint64]int{}
		for _, w := range words {
			for i := 0; i+1 < len(w); i++ {
				counts[pairKey(w[i], w[i+1])]++
			}
		}
		best, bestC := uint64(0), 0
		for k, c := range counts {
			if c > bestC || (c == bestC && k < best) {
				best, bestC = k, c
			}
		}
		if bestC == 0 {
			break
		}
		a, b := int32(best>>32), int32(uint32(best))
		id := int32(256 + len(merges))
		for i, w := range words {
			words[i] = mergeInPlace(w, a, b, id)
		}
		merges = append(merges, [2]int32{a, b})
	}
	return merges
}

// goText returns about n bytes of Go source from GOROOT/src/net/http.
func goText(tb testing.TB, n int) string {
	tb.Helper()
	dir := filepath.Join(runtime.GOROOT(), "src", "net", "http")
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	slices.Sort(files)
	var b strings.Builder
	for _, f := range files {
		if b.Len() >= n {
			break
		}
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		b.Write(data)
	}
	if b.Len() < n {
		tb.Skipf("only %d bytes of Go source under %s", b.Len(), dir)
	}
	return b.String()[:n]
}

// BenchmarkTrainBPE trains a 4096-token BPE on 1 MB of Go source.
func BenchmarkTrainBPE(b *testing.B) {
	text := goText(b, 1<<20)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := TrainBPE(text, 4096); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeBPE encodes 1 MB of Go source with a fresh (cold-cache) BPE
// each iteration.
func BenchmarkEncodeBPE(b *testing.B) {
	text := goText(b, 1<<20)
	tok, err := TrainBPE(text, 4096)
	if err != nil {
		b.Fatal(err)
	}
	js, _ := tok.MarshalJSON()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		fresh, _ := FromJSON(js)
		fresh.Encode(text)
	}
}

// BenchmarkSplit runs the GPT-4 pre-tokenizer on 1 MB of Go source.
func BenchmarkSplit(b *testing.B) {
	text := goText(b, 1<<20)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		for i := 0; i < len(text); {
			i = nextChunk(text, i)
		}
	}
}

// FuzzBPERoundTrip checks Decode(Encode(s)) == s for valid UTF-8 s.
func FuzzBPERoundTrip(f *testing.F) {
	tok, err := TrainBPE(unicodeSample+strings.Repeat(" the cat sat", 20), 400)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{unicodeSample, "the cat", "  \n\t x'S 123456"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			t.Skip()
		}
		ids := tok.Encode(s)
		if got := tok.Decode(ids); got != s {
			t.Fatalf("round trip of %q = %q (ids %v)", s, got, ids)
		}
		if got := (Byte{}).Decode((Byte{}).Encode(s)); got != s {
			t.Fatalf("byte round trip of %q = %q", s, got)
		}
	})
}

// TestEncodeLongMatchesShort checks the heap-based encoder of long chunks
// against the rescanning one on long single chunks.
func TestEncodeLongMatchesShort(t *testing.T) {
	train := strings.Repeat("ACGTTGCAAC", 200) + strings.Repeat(" ", 300) + strings.Repeat("ab", 300) + "aaaaaaaaaaaaaaaa"
	tok, err := TrainBPE(train, 400)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := []string{strings.Repeat("ACGT", 100), strings.Repeat(" ", 200), strings.Repeat("a", 129), strings.Repeat("ab", 77) + "a"}
	for range 50 {
		b := make([]byte, longChunk+rng.IntN(300))
		for i := range b {
			b[i] = "ACGTab"[rng.IntN(6)]
		}
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		long := tok.encodeLong(in)
		short := encodeShort(tok, in)
		if !slices.Equal(long, short) {
			t.Fatalf("encodeLong(%q) = %v, rescanning gives %v", in, long, short)
		}
		if tok.Decode(long) != in {
			t.Fatalf("round trip of %q failed", in)
		}
	}
}

// encodeShort is encodeChunk's rescanning loop without the length switch.
func encodeShort(t *BPE, chunk string) []int32 {
	ids := make([]int32, len(chunk))
	for i := range len(chunk) {
		ids[i] = int32(chunk[i])
	}
	for len(ids) >= 2 {
		best := int32(-1)
		for i := 0; i+1 < len(ids); i++ {
			if id, ok := t.ranks[pairKey(ids[i], ids[i+1])]; ok && (best < 0 || id < best) {
				best = id
			}
		}
		if best < 0 {
			break
		}
		m := t.merges[best-256]
		ids = mergeInPlace(ids, m[0], m[1], best)
	}
	return ids
}

// BenchmarkEncodeLongChunk encodes a 1 MB single-chunk line (no spaces).
func BenchmarkEncodeLongChunk(b *testing.B) {
	text := strings.Repeat("ACGTTGCAACGGATCC", 1<<16)
	tok, err := TrainBPE(text[:1<<14], 1024)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tok.encodeLong(text)
	}
}

// TestTrainStopsOnCancel: training a BPE tokenizer (minutes on a large
// corpus) stops when its context is cancelled (Ctrl-C during plan or run).
func TestTrainStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	text := strings.Repeat("the quick brown fox jumps over the lazy dog. ", 2000)
	if _, err := TrainContext(ctx, Spec{Kind: KindBPE, VocabSize: 2000}, text); !errors.Is(err, context.Canceled) {
		t.Fatalf("TrainContext with a cancelled context: %v, want context.Canceled", err)
	}
	if _, err := TrainContext(context.Background(), Spec{Kind: KindBPE, VocabSize: 300}, text); err != nil {
		t.Fatal(err)
	}
}
