package data

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/tokenizer"
)

func TestSplitText(t *testing.T) {
	cases := []struct {
		text       string
		vf         float64
		train, val string
	}{
		{"0123456789", 0.1, "012345678", "9"},
		{"0123456789", 0.5, "01234", "56789"},
		{"日本語のテキスト!!", 0.2, "日本語のテキスト", "!!"},
		{"ab", 0.1, "a", "b"},
	}
	for _, c := range cases {
		tr, va := SplitText(c.text, c.vf)
		if tr != c.train || va != c.val {
			t.Errorf("SplitText(%q, %v) = %q, %q; want %q, %q", c.text, c.vf, tr, va, c.train, c.val)
		}
	}
}

func TestPrepareKinds(t *testing.T) {
	nano := t.TempDir()
	writeBin(t, filepath.Join(nano, "train.bin"), []uint16{5, 1, 2, 3, 4, 4, 2, 9})
	writeBin(t, filepath.Join(nano, "val.bin"), []uint16{7, 8, 11})
	cases := []struct {
		name  string
		spec  Spec
		tok   tokenizer.Spec
		vocab int // 0: do not check
		task  bool
	}{
		{"text bpe", Spec{Kind: KindText, Path: "testdata/text"}, tokenizer.Spec{Kind: tokenizer.KindBPE, VocabSize: 260}, 0, false},
		{"stories char", Spec{Kind: KindSynthetic, Generator: GenStories, Tokens: 20000}, tokenizer.Spec{Kind: tokenizer.KindChar}, 0, false},
		{"jsonl byte", Spec{Kind: KindJSONL, Path: "testdata/docs.jsonl", ValFraction: 0.3}, tokenizer.Spec{Kind: tokenizer.KindByte}, 256, false},
		{"goroot bpe", Spec{Kind: KindGoroot, Tokens: 30000}, tokenizer.Spec{Kind: tokenizer.KindBPE, VocabSize: 400}, 400, false},
		{"stories bpe", Spec{Kind: KindSynthetic, Generator: GenStories, Tokens: 20000}, tokenizer.Spec{Kind: tokenizer.KindBPE, VocabSize: 300}, 300, false},
		{"mqar char", Spec{Kind: KindSynthetic, Generator: GenMQAR, Tokens: 20000}, tokenizer.Spec{}, 1 + 26 + 10 + 4, true},
		{"copy byte", Spec{Kind: KindSynthetic, Generator: GenCopy, Tokens: 5000}, tokenizer.Spec{Kind: tokenizer.KindByte}, 256, true},
		{"nanogpt inferred vocab", Spec{Kind: KindNanoGPT, Path: nano}, tokenizer.Spec{}, 12, false},
		{"nanogpt fixed vocab", Spec{Kind: KindNanoGPT, Path: nano}, tokenizer.Spec{Kind: tokenizer.KindIDs, VocabSize: 50304}, 50304, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Prepare(context.Background(), c.spec, c.tok, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if c.vocab != 0 && p.Tokenizer.VocabSize() != c.vocab {
				t.Errorf("vocab %d, want %d", p.Tokenizer.VocabSize(), c.vocab)
			}
			if (p.Task != nil) != c.task {
				t.Errorf("task = %v, want present=%v", p.Task, c.task)
			}
			if len(p.Train) < 2 || len(p.Val) < 2 {
				t.Fatalf("train %d val %d tokens", len(p.Train), len(p.Val))
			}
			for _, id := range slices.Concat(p.Train, p.Val) {
				if id < 0 || int(id) >= p.Tokenizer.VocabSize() {
					t.Fatalf("id %d outside vocab %d", id, p.Tokenizer.VocabSize())
				}
			}
			if c.spec.Kind == KindNanoGPT {
				if p.BytesPerToken != 0 || !slices.Equal(p.Val, []int32{7, 8, 11}) {
					t.Errorf("nanogpt: bpt %v val %v", p.BytesPerToken, p.Val)
				}
				return
			}
			corpus, err := Load(context.Background(), c.spec, "")
			if err != nil {
				t.Fatal(err)
			}
			train, val := SplitText(corpus.Text, c.spec.WithDefaults().ValFraction)
			if got := p.Tokenizer.Decode(p.Train); got != train {
				t.Errorf("train split does not decode to the first part of the text")
			}
			if got := p.Tokenizer.Decode(p.Val); got != val {
				t.Errorf("val split does not decode to the last part of the text")
			}
			if want := float64(len(val)) / float64(len(p.Val)); p.BytesPerToken != want {
				t.Errorf("BytesPerToken = %v, want %v", p.BytesPerToken, want)
			}
		})
	}
}

func TestPrepareNanoGPTVocabTooSmall(t *testing.T) {
	nano := t.TempDir()
	writeBin(t, filepath.Join(nano, "train.bin"), []uint16{5, 1, 300})
	writeBin(t, filepath.Join(nano, "val.bin"), []uint16{7, 8})
	_, err := Prepare(context.Background(), Spec{Kind: KindNanoGPT, Path: nano}, tokenizer.Spec{Kind: tokenizer.KindIDs, VocabSize: 256}, "")
	if err == nil || !strings.Contains(err.Error(), "token id 300") {
		t.Fatalf("error = %v", err)
	}
}

// TestPrepareEmptyText: an empty (or blank) text file says so, not "1
// characters are too few to split" (the newline added after the document).
func TestPrepareEmptyText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.txt")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Prepare(context.Background(), Spec{Kind: KindText, Path: path}, tokenizer.Spec{Kind: tokenizer.KindChar}, "")
	if want := "no text: " + path + " holds only empty documents or white space"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want containing %q", err, want)
	}
}

func TestPrepareCache(t *testing.T) {
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	dir := t.TempDir()
	ctx := context.Background()
	spec := Spec{Name: "s", Kind: KindSynthetic, Generator: GenStories, Tokens: 20000, Seed: 2}
	tok := tokenizer.Spec{Kind: tokenizer.KindBPE, VocabSize: 300}
	first, err := Prepare(ctx, spec, tok, dir)
	if err != nil {
		t.Fatal(err)
	}
	if first.CacheHit {
		t.Fatal("first Prepare reported a cache hit")
	}
	entry := filepath.Join(dir, "prepared", first.Key+".bin")
	same := func(t *testing.T, p *Prepared, hit bool) {
		t.Helper()
		if p.CacheHit != hit {
			t.Errorf("CacheHit = %v, want %v", p.CacheHit, hit)
		}
		a, _ := first.Tokenizer.MarshalJSON()
		b, _ := p.Tokenizer.MarshalJSON()
		if !bytes.Equal(a, b) || !slices.Equal(first.Train, p.Train) || !slices.Equal(first.Val, p.Val) || first.BytesPerToken != p.BytesPerToken {
			t.Error("prepared data differs from the first build")
		}
	}

	renamed := spec
	renamed.Name = "other name, same data"
	hit, err := Prepare(ctx, renamed, tok, dir)
	if err != nil {
		t.Fatal(err)
	}
	same(t, hit, true)

	cases := []struct {
		name    string
		corrupt func([]byte) []byte
	}{
		{"flipped byte", func(b []byte) []byte { b[len(b)/2] ^= 0xff; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)/3] }},
		{"empty", func([]byte) []byte { return nil }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := os.ReadFile(entry)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(entry, c.corrupt(b), 0o644); err != nil {
				t.Fatal(err)
			}
			logs.Reset()
			p, err := Prepare(ctx, spec, tok, dir)
			if err != nil {
				t.Fatal(err)
			}
			same(t, p, false)
			if !strings.Contains(logs.String(), "discarding bad entry") {
				t.Errorf("corruption was not logged: %q", logs.String())
			}
			p, err = Prepare(ctx, spec, tok, dir)
			if err != nil {
				t.Fatal(err)
			}
			same(t, p, true) // the rebuilt entry is good again
		})
	}

	other := spec
	other.Seed = 3
	p, err := Prepare(ctx, other, tok, dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.CacheHit || p.Key == first.Key {
		t.Error("a different seed hit the same cache entry")
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "prepared", "*.tmp-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

func TestVocabSize(t *testing.T) {
	ctx := context.Background()
	mqar := Spec{Kind: KindSynthetic, Generator: GenMQAR, Tokens: 5000}
	cases := []struct {
		name string
		spec Spec
		tok  tokenizer.Spec
		want int
	}{
		{"byte", mqar, tokenizer.Spec{Kind: tokenizer.KindByte}, 256},
		{"char", mqar, tokenizer.Spec{}, 1 + 26 + 10 + 4}, // <unk>, letters, digits, " |?\n"
		{"bpe", mqar, tokenizer.Spec{Kind: tokenizer.KindBPE, VocabSize: 280}, 280},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := VocabSize(ctx, c.spec, c.tok, t.TempDir())
			if err != nil || got != c.want {
				t.Fatalf("VocabSize = %d, %v; want %d", got, err, c.want)
			}
		})
	}
	if _, err := VocabSize(ctx, mqar, tokenizer.Spec{Kind: tokenizer.KindIDs}, ""); err == nil {
		t.Error("ids with synthetic data accepted")
	}
}

func TestPrepareUnwritableCache(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	spec := Spec{Kind: KindSynthetic, Generator: GenCopy, Tokens: 2000}
	p, err := Prepare(context.Background(), spec, tokenizer.Spec{}, notDir)
	if err != nil || len(p.Train) == 0 || p.CacheHit {
		t.Fatalf("Prepare with an unusable cache dir: %v", err)
	}
}

func TestTaskExamples(t *testing.T) {
	ctx := context.Background()
	for _, gen := range []string{GenMQAR, GenCopy} {
		for _, tk := range []tokenizer.Spec{{Kind: tokenizer.KindChar}, {Kind: tokenizer.KindByte}, {Kind: tokenizer.KindBPE, VocabSize: 320}} {
			t.Run(gen+"/"+tk.Kind, func(t *testing.T) {
				p, err := Prepare(ctx, Spec{Kind: KindSynthetic, Generator: gen, Tokens: 20000}, tk, "")
				if err != nil {
					t.Fatal(err)
				}
				exs := p.Task.Examples("val", 50, rand.New(rand.NewPCG(1, 2)))
				if len(exs) != 50 {
					t.Fatalf("%d examples, want 50", len(exs))
				}
				for _, ex := range exs {
					text := p.Tokenizer.Decode(ex.Input)
					if tk.Kind != tokenizer.KindBPE {
						// One token per character: every answer character is scored.
						want := strings.Count(text, "?")
						if gen == GenCopy {
							want = strings.Index(text, " = ") - 1
						}
						if len(ex.Answers) != want {
							t.Fatalf("%q: %d answers, want %d", text, len(ex.Answers), want)
						}
					}
					if !strings.HasPrefix(text, "\n") || len(text) > p.Task.MaxLen() {
						t.Fatalf("example %q: bad start or longer than MaxLen %d", text, p.Task.MaxLen())
					}
					for k, pos := range ex.AnswerPositions {
						if ex.Input[pos+1] != ex.Answers[k] {
							t.Fatalf("answer %d is not the next input token", k)
						}
						before := p.Tokenizer.Decode(ex.Input[:pos+1])
						ans := p.Tokenizer.Decode(ex.Input[pos+1 : pos+2])
						switch gen {
						case GenMQAR:
							// The answer is the value stored for the queried key.
							key := before[len(before)-3 : len(before)-2]
							if !strings.HasSuffix(before, "? ") || !strings.Contains(text, " "+key+ans+" ") && !strings.HasPrefix(text, "\n"+key+ans+" ") {
								t.Fatalf("answer %q after %q is not the value of %s in %q", ans, before, key, text)
							}
						case GenCopy:
							src, _, _ := strings.Cut(text[1:], " = ")
							copied := before[strings.Index(before, " =")+2:] // "", " " or " abc"
							if !strings.HasPrefix(" "+src, copied+ans) {
								t.Fatalf("answer %q after %q does not continue the copy of %q", ans, copied, src)
							}
						}
					}
				}
				// Oracle predictions (the true next token) score 100%; a constant scores less.
				acc, err := Score(exs, func(in []int32) ([]int32, error) {
					return append(slices.Clone(in[1:]), 0), nil
				})
				if err != nil || acc.Token() != 1 || acc.ExactMatch() != 1 || acc.Examples != 50 {
					t.Errorf("oracle accuracy %+v, %v", acc, err)
				}
				acc, _ = Score(exs, func(in []int32) ([]int32, error) { return make([]int32, len(in)), nil })
				if acc.Token() >= 0.5 {
					t.Errorf("constant predictor scored %v", acc.Token())
				}
				again := p.Task.Examples("val", 50, rand.New(rand.NewPCG(1, 2)))
				train := p.Task.Examples("train", 50, rand.New(rand.NewPCG(1, 2)))
				if !slices.EqualFunc(exs, again, exampleEqual) {
					t.Error("same rng and split gave different examples")
				}
				if slices.EqualFunc(exs, train, exampleEqual) {
					t.Error("train and val examples are identical")
				}
			})
		}
	}
}

func exampleEqual(a, b Example) bool {
	return slices.Equal(a.Input, b.Input) && slices.Equal(a.AnswerPositions, b.AnswerPositions) && slices.Equal(a.Answers, b.Answers)
}

func TestScoreErrors(t *testing.T) {
	ex := []Example{{Input: []int32{1, 2, 3}, AnswerPositions: []int{1}, Answers: []int32{3}}}
	if _, err := Score(ex, func(in []int32) ([]int32, error) { return []int32{1}, nil }); err == nil {
		t.Error("short prediction accepted")
	}
}

// BenchmarkPrepareGorootBPE prepares 10 M characters of Go source with an
// 8192-token BPE, without cache: load, split, train, encode both splits.
func BenchmarkPrepareGorootBPE(b *testing.B) {
	spec := Spec{Kind: KindGoroot, Tokens: 10_000_000}
	tok := tokenizer.Spec{Kind: tokenizer.KindBPE, VocabSize: 8192}
	for b.Loop() {
		p, err := Prepare(context.Background(), spec, tok, "")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(p.Train)+len(p.Val)), "tokens")
		b.ReportMetric(p.BytesPerToken, "bytes/token")
	}
}

// BenchmarkPrepareCacheHit measures a cached Prepare of 1 M characters of
// stories (generate + hash + read the cache entry).
func BenchmarkPrepareCacheHit(b *testing.B) {
	dir := b.TempDir()
	spec := Spec{Kind: KindSynthetic, Generator: GenStories, Tokens: 1_000_000}
	tok := tokenizer.Spec{Kind: tokenizer.KindBPE, VocabSize: 1024}
	if _, err := Prepare(context.Background(), spec, tok, dir); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		p, err := Prepare(context.Background(), spec, tok, dir)
		if err != nil || !p.CacheHit {
			b.Fatal("no cache hit", err)
		}
	}
}
