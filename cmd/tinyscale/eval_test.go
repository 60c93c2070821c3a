package main

import (
	"context"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/models"
)

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestEvalTextZeroModelIsUniform(t *testing.T) {
	// All-zero weights give all-zero logits: the loss is exactly ln V.
	for _, family := range models.Families() {
		t.Run(family, func(t *testing.T) {
			s := testSnapshot(t, family, true)
			text := []byte(strings.Repeat(fixtureText, 2)) // 98 tokens
			res, err := evalText(context.Background(), s, text, 2)
			if err != nil {
				t.Fatal(err)
			}
			V := float64(s.cfg.VocabSize)
			if math.Abs(res.Loss-math.Log(V)) > 1e-9 {
				t.Errorf("loss %v, want ln %v = %v", res.Loss, V, math.Log(V))
			}
			n := len(text) - 1 // one token per character
			if res.Tokens != n || res.Bytes != len(text) || res.Windows != (n+7)/8 || res.BlockSize != 8 {
				t.Errorf("result %+v", res)
			}
			if want := float64(n) * math.Log(V) / math.Ln2 / float64(len(text)); math.Abs(res.BitsPerByte-want) > 1e-9 {
				t.Errorf("bits per byte %v, want %v", res.BitsPerByte, want)
			}
		})
	}
}

func TestEvalTextMatchesWindowedLoss(t *testing.T) {
	s := testSnapshot(t, models.FamilyGPT2, false)
	text := []byte(fixtureText + "the cat")
	inf, tok, err := s.build()
	if err != nil {
		t.Fatal(err)
	}
	ids := tok.Encode(string(text))
	// By hand: windows [0,8), [8,16), ... of inputs, the last shorter.
	var total float64
	for lo := 0; lo < len(ids)-1; lo += 8 {
		hi := min(lo+8, len(ids)-1)
		l, err := inf.Loss(ids[lo:hi], ids[lo+1:hi+1])
		if err != nil {
			t.Fatal(err)
		}
		total += l * float64(hi-lo)
	}
	one, err := evalText(context.Background(), s, text, 1)
	if err != nil {
		t.Fatal(err)
	}
	four, err := evalText(context.Background(), s, text, 4)
	if err != nil {
		t.Fatal(err)
	}
	if one != four {
		t.Errorf("1 worker %+v, 4 workers %+v", one, four)
	}
	if want := total / float64(len(ids)-1); math.Abs(one.Loss-want) > 1e-12 {
		t.Errorf("loss %v, windowed by hand %v", one.Loss, want)
	}
	if one.Run != "test/gpt2" || one.Step != 7 {
		t.Errorf("run/step %q %d", one.Run, one.Step)
	}
	if _, err := evalText(context.Background(), s, []byte("t"), 1); err == nil {
		t.Error("one-token text: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := evalText(ctx, s, text, 1); err == nil {
		t.Error("cancelled context: no error")
	}
}

// TestEvalRefusesInvalidUTF8: eval refuses text that training would refuse,
// naming the byte offset, before opening anything.
func TestEvalRefusesInvalidUTF8(t *testing.T) {
	path := t.TempDir() + "/bad.txt"
	writeFile(t, path, "good text \xff\xfe more")
	var out, errb strings.Builder
	code := runMain(context.Background(), []string{"eval", "--run", "x", "--text", path, "--db", path + ".db"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), path+": invalid UTF-8 at byte offset 10") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}
