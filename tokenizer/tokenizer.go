// Package tokenizer turns text into token ids and back. It provides three
// trainable kinds — char (one id per rune seen in training, id 0 = <unk>),
// byte (256 ids) and byte-level bpe (GPT-4 pre-tokenizer split, greedy merges)
// — and ids, the identity tokenizer for data that is already token ids.
//
// Every tokenizer serialises to JSON (MarshalJSON) and is rebuilt by FromJSON;
// the JSON is stored in checkpoints and exported models.
package tokenizer

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Tokenizer encodes text to token ids and decodes ids to text. Implementations
// are safe for concurrent use.
type Tokenizer interface {
	// Encode returns the token ids of s.
	Encode(s string) []int32
	// Decode returns the text of ids. Ids out of range decode to U+FFFD, and
	// byte sequences that are not valid UTF-8 are replaced by U+FFFD.
	Decode(ids []int32) string
	// VocabSize is the number of ids: every id is in [0, VocabSize()).
	VocabSize() int
	// Kind is one of Kinds().
	Kind() string
	// MarshalJSON serialises the tokenizer; FromJSON reverses it.
	MarshalJSON() ([]byte, error)
}

// Train builds a tokenizer of spec.Kind from text. char collects the runes of
// text; byte ignores text; bpe learns spec.VocabSize-256 merges (fewer if the
// text runs out of pairs). Kind ids cannot be trained from text: use NewIDs.
func Train(spec Spec, text string) (Tokenizer, error) {
	return TrainContext(context.Background(), spec, text)
}

// TrainContext is Train that stops with ctx's error when ctx is done
// (checked between BPE merges).
func TrainContext(ctx context.Context, spec Spec, text string) (Tokenizer, error) {
	spec = spec.WithDefaults()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	switch spec.Kind {
	case KindChar:
		return NewChar(text), nil
	case KindByte:
		return Byte{}, nil
	case KindBPE:
		return trainBPE(ctx, text, spec.VocabSize)
	default:
		return nil, fmt.Errorf("tokenizer: kind %q is not trained from text (use NewIDs)", spec.Kind)
	}
}

// jsonHeader is the part of every serialised tokenizer that names its kind.
type jsonHeader struct {
	Kind    string `json:"kind"`
	Version int    `json:"version"`
}

// formatVersion is the JSON format version written by MarshalJSON.
const formatVersion = 1

// FromJSON rebuilds a tokenizer serialised by its MarshalJSON.
func FromJSON(b []byte) (Tokenizer, error) {
	var h jsonHeader
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("tokenizer: decode json: %w", err)
	}
	if h.Version != formatVersion {
		return nil, fmt.Errorf("tokenizer: unsupported format version %d (want %d)", h.Version, formatVersion)
	}
	switch h.Kind {
	case KindChar:
		var j charJSON
		if err := json.Unmarshal(b, &j); err != nil {
			return nil, fmt.Errorf("tokenizer: decode char: %w", err)
		}
		runes := []rune(j.Runes)
		if !slices.IsSorted(runes) || len(slices.Compact(slices.Clone(runes))) != len(runes) {
			return nil, fmt.Errorf("tokenizer: char runes are not sorted and unique")
		}
		return newCharFromRunes(runes), nil
	case KindByte:
		return Byte{}, nil
	case KindIDs:
		var j idsJSON
		if err := json.Unmarshal(b, &j); err != nil {
			return nil, fmt.Errorf("tokenizer: decode ids: %w", err)
		}
		return NewIDs(j.VocabSize)
	case KindBPE:
		var j bpeJSON
		if err := json.Unmarshal(b, &j); err != nil {
			return nil, fmt.Errorf("tokenizer: decode bpe: %w", err)
		}
		if j.Pattern != PatternGPT4 {
			return nil, fmt.Errorf("tokenizer: unsupported bpe pattern %q (want %q)", j.Pattern, PatternGPT4)
		}
		return newBPE(j.Merges)
	default:
		return nil, fmt.Errorf("tokenizer: unknown kind %q in json (allowed: %s)", h.Kind, strings.Join(Kinds(), ", "))
	}
}

// UnkID is the id of "<unk>" in a char tokenizer: runes not seen in training
// encode to it and it decodes to U+FFFD.
const UnkID = 0

// Char is a character-level tokenizer: id 0 is <unk>, ids 1..n are the
// distinct runes of the training text in ascending code point order.
type Char struct {
	runes []rune
	index map[rune]int32
}

type charJSON struct {
	jsonHeader
	Runes string `json:"runes"`
}

// NewChar builds a char tokenizer from the distinct runes of text.
func NewChar(text string) *Char {
	seen := make(map[rune]struct{})
	for _, r := range text {
		seen[r] = struct{}{}
	}
	runes := make([]rune, 0, len(seen))
	for r := range seen {
		runes = append(runes, r)
	}
	slices.Sort(runes)
	return newCharFromRunes(runes)
}

func newCharFromRunes(runes []rune) *Char {
	c := &Char{runes: runes, index: make(map[rune]int32, len(runes))}
	for i, r := range runes {
		c.index[r] = int32(i + 1)
	}
	return c
}

// Encode maps each rune to its id, or UnkID if it was not seen in training.
func (c *Char) Encode(s string) []int32 {
	ids := make([]int32, 0, len(s))
	for _, r := range s {
		ids = append(ids, c.index[r]) // missing → 0 = UnkID
	}
	return ids
}

// Decode maps ids back to runes; UnkID and out-of-range ids become U+FFFD.
func (c *Char) Decode(ids []int32) string {
	var b strings.Builder
	b.Grow(len(ids))
	for _, id := range ids {
		if id <= 0 || int(id) > len(c.runes) {
			b.WriteRune(utf8.RuneError)
			continue
		}
		b.WriteRune(c.runes[id-1])
	}
	return b.String()
}

// VocabSize is 1 (<unk>) plus the number of distinct training runes.
func (c *Char) VocabSize() int { return len(c.runes) + 1 }

// Kind returns "char".
func (c *Char) Kind() string { return KindChar }

// MarshalJSON writes {"kind":"char","version":1,"runes":"..."}.
func (c *Char) MarshalJSON() ([]byte, error) {
	return json.Marshal(charJSON{jsonHeader{KindChar, formatVersion}, string(c.runes)})
}

// Byte is the byte-level tokenizer: each UTF-8 byte is its own id.
type Byte struct{}

// Encode returns the bytes of s as ids.
func (Byte) Encode(s string) []int32 {
	ids := make([]int32, len(s))
	for i := 0; i < len(s); i++ {
		ids[i] = int32(s[i])
	}
	return ids
}

// Decode returns the bytes as text (invalid UTF-8 and ids outside [0,256)
// become U+FFFD).
func (Byte) Decode(ids []int32) string {
	b := make([]byte, 0, len(ids))
	for _, id := range ids {
		if id < 0 || id > 255 {
			b = utf8.AppendRune(b, utf8.RuneError)
			continue
		}
		b = append(b, byte(id))
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// VocabSize returns 256.
func (Byte) VocabSize() int { return 256 }

// Kind returns "byte".
func (Byte) Kind() string { return KindByte }

// MarshalJSON writes {"kind":"byte","version":1}.
func (Byte) MarshalJSON() ([]byte, error) {
	return json.Marshal(jsonHeader{KindByte, formatVersion})
}

// IDs is the identity tokenizer for data that is already token ids (nanoGPT
// .bin files). Its text form is the decimal ids separated by single spaces.
type IDs struct {
	vocab int
}

type idsJSON struct {
	jsonHeader
	VocabSize int `json:"vocab_size"`
}

// NewIDs returns an identity tokenizer over ids [0, vocab).
func NewIDs(vocab int) (*IDs, error) {
	if vocab < 1 || vocab > 1<<24 {
		return nil, fmt.Errorf("tokenizer: ids vocab_size %d out of range (allowed 1..%d)", vocab, 1<<24)
	}
	return &IDs{vocab: vocab}, nil
}

// Encode parses whitespace-separated decimal ids; fields that are not ids in
// [0, VocabSize()) are skipped.
func (t *IDs) Encode(s string) []int32 {
	var ids []int32
	for _, f := range strings.Fields(s) {
		v, err := strconv.ParseInt(f, 10, 32)
		if err != nil || v < 0 || int(v) >= t.vocab {
			continue
		}
		ids = append(ids, int32(v))
	}
	return ids
}

// Decode formats ids as decimal numbers separated by single spaces.
func (t *IDs) Decode(ids []int32) string {
	b := make([]byte, 0, 6*len(ids))
	for i, id := range ids {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, int64(id), 10)
	}
	return string(b)
}

// VocabSize returns the fixed vocabulary size.
func (t *IDs) VocabSize() int { return t.vocab }

// Kind returns "ids".
func (t *IDs) Kind() string { return KindIDs }

// MarshalJSON writes {"kind":"ids","version":1,"vocab_size":N}.
func (t *IDs) MarshalJSON() ([]byte, error) {
	return json.Marshal(idsJSON{jsonHeader{KindIDs, formatVersion}, t.vocab})
}
