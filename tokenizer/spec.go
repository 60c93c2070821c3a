package tokenizer

import (
	"fmt"
	"slices"
	"strings"
)

// Tokenizer kinds.
const (
	// KindChar maps every rune of the training text to its own id; id 0 is
	// "<unk>", used for runes never seen in training.
	KindChar = "char"
	// KindByte maps every UTF-8 byte to its own id (vocabulary 256).
	KindByte = "byte"
	// KindBPE is a byte-level BPE with the GPT-4 pre-tokenizer split.
	KindBPE = "bpe"
	// KindIDs is the identity tokenizer for data that is already token ids
	// (nanoGPT .bin files); it is allowed only with nanogpt data.
	KindIDs = "ids"
)

// DefaultBPEVocab is the BPE vocabulary size used when Spec.VocabSize is 0.
const DefaultBPEVocab = 8192

// Kinds lists the tokenizer kinds, sorted.
func Kinds() []string {
	return []string{KindBPE, KindByte, KindChar, KindIDs}
}

// Spec selects a tokenizer. It is part of every run's resolved configuration.
type Spec struct {
	// Kind is one of Kinds().
	Kind string `json:"kind" yaml:"kind"`
	// VocabSize is the target vocabulary for bpe (default DefaultBPEVocab,
	// at least 257) and an optional fixed vocabulary for ids (0: 1+max id in
	// the data). It must be 0 for char and byte, whose vocabulary follows
	// from the data.
	VocabSize int `json:"vocab_size,omitempty" yaml:"vocab_size,omitempty"`
}

// WithDefaults returns s with an empty Kind set to "char" and the bpe vocabulary
// defaulted.
func (s Spec) WithDefaults() Spec {
	if s.Kind == "" {
		s.Kind = KindChar
	}
	if s.Kind == KindBPE && s.VocabSize == 0 {
		s.VocabSize = DefaultBPEVocab
	}
	return s
}

// Validate checks the kind against Kinds() and the vocabulary size against
// the kind. Defaults are applied first.
func (s Spec) Validate() error {
	s = s.WithDefaults()
	if !slices.Contains(Kinds(), s.Kind) {
		return fmt.Errorf("tokenizer: unknown kind %q (allowed: %s)", s.Kind, strings.Join(Kinds(), ", "))
	}
	switch s.Kind {
	case KindChar, KindByte:
		if s.VocabSize != 0 {
			return fmt.Errorf("tokenizer: vocab_size %d not allowed for kind %q (its vocabulary follows from the data; omit vocab_size)", s.VocabSize, s.Kind)
		}
	case KindBPE:
		if s.VocabSize < 257 || s.VocabSize > 1<<20 {
			return fmt.Errorf("tokenizer: bpe vocab_size %d out of range (allowed 257..%d)", s.VocabSize, 1<<20)
		}
	case KindIDs:
		if s.VocabSize < 0 || s.VocabSize > 1<<24 {
			return fmt.Errorf("tokenizer: ids vocab_size %d out of range (allowed 0..%d; 0 means 1+max id)", s.VocabSize, 1<<24)
		}
	}
	return nil
}
