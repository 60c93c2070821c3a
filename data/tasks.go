package data

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/tinyscale/tinyscale/tokenizer"
)

// MQAR and copy task parameters (the same for the corpus and the examples).
const (
	mqarMinPairs = 2
	mqarMaxPairs = 8
	copyMinLen   = 4
	copyMaxLen   = 16
)

// writeMQAR writes one multi-query associative recall line: distinct
// single-letter keys with single-digit values, "|", then every key queried
// once in random order with its value: "a3 k7 x1 | k? 7 a? 3 x? 1\n".
func writeMQAR(b *strings.Builder, rng *rand.Rand) {
	line, _ := mqarLine(rng)
	b.WriteString(line)
}

// answerSpan marks an answer in a line by byte offsets: the answer is
// [start, end); [free, start) is text that is fully determined by what comes
// before it (a separator space), so a token starting there may be scored.
type answerSpan struct{ free, start, end int }

// mqarLine returns one line and its answer spans.
func mqarLine(rng *rand.Rand) (string, []answerSpan) {
	n := mqarMinPairs + rng.IntN(mqarMaxPairs-mqarMinPairs+1)
	keys := rng.Perm(26)[:n]
	vals := make([]int, n)
	var b strings.Builder
	for i, k := range keys {
		vals[i] = rng.IntN(10)
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%c%d", 'a'+k, vals[i])
	}
	b.WriteString(" |")
	spans := make([]answerSpan, 0, n)
	for _, i := range rng.Perm(n) {
		fmt.Fprintf(&b, " %c? ", 'a'+keys[i])
		spans = append(spans, answerSpan{b.Len() - 1, b.Len(), b.Len() + 1})
		fmt.Fprintf(&b, "%d", vals[i])
	}
	b.WriteByte('\n')
	return b.String(), spans
}

// writeCopy writes one copy line: a random lowercase string, " = ", and the
// string again: "qxkeb = qxkeb\n".
func writeCopy(b *strings.Builder, rng *rand.Rand) {
	line, _ := copyLine(rng)
	b.WriteString(line)
}

func copyLine(rng *rand.Rand) (string, []answerSpan) {
	n := copyMinLen + rng.IntN(copyMaxLen-copyMinLen+1)
	s := make([]byte, n)
	for i := range s {
		s[i] = byte('a' + rng.IntN(26))
	}
	line := string(s) + " = " + string(s) + "\n"
	return line, []answerSpan{{n + 2, n + 3, 2*n + 3}}
}

// Example is one evaluation sequence for a Task. The model reads Input in a
// single forward pass (teacher forcing); at each position AnswerPositions[i]
// its greedy prediction of the next token must equal Answers[i] (which is
// Input[AnswerPositions[i]+1]).
type Example struct {
	Input           []int32
	AnswerPositions []int
	Answers         []int32
}

// Task is an algorithmic task with exactly checkable answers (mqar, copy).
type Task interface {
	// Name is the generator name.
	Name() string
	// Examples returns n fresh examples drawn with rng from the same
	// distribution as the corpus. split ("train", "val", ...) is mixed into
	// the draw so that different splits give different examples for the same
	// rng state. Each Input starts with the token(s) of "\n", as lines do in
	// the corpus, and is at most MaxLen characters long.
	Examples(split string, n int, rng *rand.Rand) []Example
	// MaxLen is the longest example in characters (an upper bound on tokens
	// for char, byte and bpe tokenizers).
	MaxLen() int
}

// lineTask implements Task over a line generator.
type lineTask struct {
	name   string
	tok    tokenizer.Tokenizer
	line   func(*rand.Rand) (string, []answerSpan)
	maxLen int
}

// NewTask returns the Task of a synthetic generator, encoding with tok, or
// nil if the generator has none (stories).
func NewTask(generator string, tok tokenizer.Tokenizer) Task {
	switch generator {
	case GenMQAR:
		// "\n" + n pairs "k9 " + "|" + n queries " k? 9" + "\n".
		return &lineTask{GenMQAR, tok, mqarLine, 1 + 3*mqarMaxPairs + 1 + 5*mqarMaxPairs + 1}
	case GenCopy:
		return &lineTask{GenCopy, tok, copyLine, 1 + 2*copyMaxLen + 4}
	}
	return nil
}

// Name implements Task.
func (t *lineTask) Name() string { return t.name }

// MaxLen implements Task.
func (t *lineTask) MaxLen() int { return t.maxLen }

// Examples implements Task.
func (t *lineTask) Examples(split string, n int, rng *rand.Rand) []Example {
	var h uint64 = 14695981039346656037 // FNV-1a of split
	for i := 0; i < len(split); i++ {
		h = (h ^ uint64(split[i])) * 1099511628211
	}
	r := rand.New(rand.NewPCG(rng.Uint64(), h))
	out := make([]Example, 0, n)
	for tries := 0; len(out) < n && tries < 100*n; tries++ {
		line, spans := t.line(r)
		if ex, ok := t.example("\n"+line, spans, 1); ok {
			out = append(out, ex)
		}
	}
	return out
}

// example tokenizes text and marks every token that overlaps an answer and
// starts no earlier than its span's free offset (span offsets are shifted by
// off). A token that begins with unpredictable text (e.g. bpe's "=a" joining
// a separator to the answer) is not scored. It fails if the tokens do not
// decode back to text (unknown characters), since the offsets would be wrong.
func (t *lineTask) example(text string, spans []answerSpan, off int) (Example, bool) {
	ids := t.tok.Encode(text)
	ex := Example{Input: ids}
	pos := 0
	for j, id := range ids {
		s := t.tok.Decode(ids[j : j+1])
		start, end := pos, pos+len(s)
		if end > len(text) || text[start:end] != s {
			return Example{}, false
		}
		pos = end
		for _, sp := range spans {
			if start < sp.end+off && sp.start+off < end && start >= sp.free+off && j > 0 {
				ex.AnswerPositions = append(ex.AnswerPositions, j-1)
				ex.Answers = append(ex.Answers, id)
				break
			}
		}
	}
	return ex, pos == len(text) && len(ex.Answers) > 0
}

// Accuracy is the result of scoring a Task.
type Accuracy struct {
	// Answers and Correct count answer tokens; Examples and Exact count
	// examples and those with every answer token correct.
	Answers, Correct, Examples, Exact int
}

// Token is the fraction of answer tokens predicted correctly.
func (a Accuracy) Token() float64 {
	if a.Answers == 0 {
		return 0
	}
	return float64(a.Correct) / float64(a.Answers)
}

// ExactMatch is the fraction of examples with every answer correct.
func (a Accuracy) ExactMatch() float64 {
	if a.Examples == 0 {
		return 0
	}
	return float64(a.Exact) / float64(a.Examples)
}

// Score runs predict on every example and compares its predictions at the
// answer positions. predict returns the model's greedy (argmax) next-token
// prediction at every position of input, len(input) values.
func Score(examples []Example, predict func(input []int32) ([]int32, error)) (Accuracy, error) {
	var acc Accuracy
	for i, ex := range examples {
		pred, err := predict(ex.Input)
		if err != nil {
			return acc, fmt.Errorf("example %d: %w", i, err)
		}
		if len(pred) != len(ex.Input) {
			return acc, fmt.Errorf("example %d: predict returned %d predictions for %d inputs", i, len(pred), len(ex.Input))
		}
		all := true
		for k, p := range ex.AnswerPositions {
			acc.Answers++
			if pred[p] == ex.Answers[k] {
				acc.Correct++
			} else {
				all = false
			}
		}
		acc.Examples++
		if all {
			acc.Exact++
		}
	}
	return acc, nil
}
