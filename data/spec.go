// Package data loads datasets (text files, JSONL, nanoGPT token files, the Go
// source tree, synthetic generators), splits them into train/val, tokenizes
// them with package tokenizer and caches the result on disk.
package data

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tinyscale/tinyscale/tokenizer"
)

// Dataset kinds.
const (
	KindText      = "text"
	KindJSONL     = "jsonl"
	KindNanoGPT   = "nanogpt"
	KindLLMC      = "llmc"
	KindParquet   = "parquet"
	KindEmail     = "email"
	KindGoroot    = "goroot"
	KindSynthetic = "synthetic"
)

// Synthetic generator names.
const (
	GenStories = "stories"
	GenMQAR    = "mqar"
	GenCopy    = "copy"
)

// Validation splits (Spec.Split). The empty split, the default, cuts the
// character stream (the last val_fraction of the characters are val).
const (
	// SplitTail holds out the last documents.
	SplitTail = "tail"
	// SplitInterleaved holds out evenly spaced documents.
	SplitInterleaved = "interleaved"
)

// Splits lists the allowed non-empty values of Spec.Split.
func Splits() []string { return []string{SplitInterleaved, SplitTail} }

// Defaults applied by Spec.WithDefaults.
const (
	DefaultValFraction = 0.1
	DefaultField       = "text"
	DefaultSeed        = 1
	// DefaultSyntheticTokens is the size in characters of a synthetic corpus
	// when Spec.Tokens is 0.
	DefaultSyntheticTokens = 1_000_000
)

// Kinds lists the dataset kinds, sorted.
func Kinds() []string {
	return []string{KindEmail, KindGoroot, KindJSONL, KindLLMC, KindNanoGPT, KindParquet, KindSynthetic, KindText}
}

// Generators lists the synthetic generators, sorted.
func Generators() []string {
	return []string{GenCopy, GenMQAR, GenStories}
}

// hasField reports whether kind reads its text from a named field (jsonl
// key, parquet column).
func hasField(kind string) bool { return kind == KindJSONL || kind == KindParquet }

// isTokenIDs reports whether kind holds token ids already (nanogpt, llmc)
// rather than text.
func isTokenIDs(kind string) bool { return kind == KindNanoGPT || kind == KindLLMC }

// Spec declares one dataset (an entry under `datasets:` in experiments.yaml).
type Spec struct {
	// Name is the key under datasets:.
	Name string `json:"name" yaml:"name"`
	// Kind is one of Kinds().
	Kind string `json:"kind" yaml:"kind"`
	// Generator is one of Generators(); synthetic only.
	Generator string `json:"generator,omitempty" yaml:"generator,omitempty"`
	// Path is a file, directory or glob (text), a file (jsonl) or a directory
	// holding train.bin and val.bin (nanogpt), or the directory of llm.c shards
	// (llmc).
	Path string `json:"path,omitempty" yaml:"path,omitempty"`
	// Field is the JSON key of each jsonl line, or the parquet column (a
	// dotted path for nested columns), holding the text (default "text").
	Field string `json:"field,omitempty" yaml:"field,omitempty"`
	// Tokens is the approximate size in characters of a synthetic corpus and an
	// optional cap (characters, or token ids for nanogpt and llmc) for the other kinds.
	Tokens int64 `json:"tokens,omitempty" yaml:"tokens,omitempty"`
	// ValFraction is the fraction of the stream held out for validation
	// (default 0.1; 0 means the default). Ignored by nanogpt and llmc, which come
	// split.
	ValFraction float64 `json:"val_fraction" yaml:"val_fraction"`
	// Seed seeds synthetic generators (default 1; 0 means the default).
	Seed uint64 `json:"seed" yaml:"seed"`
	// Split chooses the validation split: "" (the default) holds out the
	// last val_fraction of the characters; SplitTail the last documents and
	// SplitInterleaved evenly spaced documents (see SplitDocuments). Not for
	// synthetic, nanogpt or llmc data.
	Split string `json:"split,omitempty" yaml:"split,omitempty"`
	// Groups selects, for kind email, the subdirectories of Path to read
	// (see GroupMatches: "ham" selects easy-ham-1 and hard-ham-1); empty
	// reads every file under Path.
	Groups []string `json:"groups,omitempty" yaml:"groups,omitempty"`
}

// WithDefaults returns s with zero ValFraction, Seed, Field (jsonl, parquet) and Tokens
// (synthetic) replaced by their defaults.
func (s Spec) WithDefaults() Spec {
	if s.ValFraction == 0 {
		s.ValFraction = DefaultValFraction
	}
	if s.Seed == 0 {
		s.Seed = DefaultSeed
	}
	if hasField(s.Kind) && s.Field == "" {
		s.Field = DefaultField
	}
	if s.Kind == KindSynthetic && s.Tokens == 0 {
		s.Tokens = DefaultSyntheticTokens
	}
	return s
}

// FieldError is a Validate error caused by the value of one field of a
// Spec, so that a caller holding the source (sweeps) can point at that
// field's line. Field is the YAML/JSON key ("path", "split", ...).
type FieldError struct {
	// Dataset is the dataset's name ("(unnamed)" when empty).
	Dataset string
	// Field is the key of the offending field.
	Field string
	// Err says what is wrong, without the dataset prefix.
	Err error
}

// Error returns "dataset NAME: " followed by Err.
func (e *FieldError) Error() string { return "dataset " + e.Dataset + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *FieldError) Unwrap() error { return e.Err }

// MaxSyntheticTokens caps a synthetic corpus: its text (and then its token
// ids, 4 bytes each) is built in memory, so a larger one is out of reach of
// the machines tinyscale is for.
const MaxSyntheticTokens = 1_000_000_000

// Validate checks kind and generator against the registry, required and
// forbidden fields, ranges, and that the files named by Path exist. Defaults
// are applied first. Errors about one field are *FieldError.
func (s Spec) Validate() error {
	s = s.WithDefaults()
	name := s.Name
	if name == "" {
		name = "(unnamed)"
	}
	fail := func(field, format string, a ...any) error {
		return &FieldError{Dataset: name, Field: field, Err: fmt.Errorf(format, a...)}
	}
	if !slices.Contains(Kinds(), s.Kind) {
		return fail("kind", "unknown kind %q (allowed: %s)", s.Kind, strings.Join(Kinds(), ", "))
	}
	if s.ValFraction <= 0 || s.ValFraction >= 1 || math.IsNaN(s.ValFraction) {
		return fail("val_fraction", "val_fraction %v must be in (0, 1)", s.ValFraction)
	}
	if s.Tokens < 0 {
		return fail("tokens", "tokens %d must not be negative", s.Tokens)
	}
	if s.Split != "" {
		if !slices.Contains(Splits(), s.Split) {
			return fail("split", "unknown split %q (allowed: %s; omit it to split by characters)", s.Split, strings.Join(Splits(), ", "))
		}
		if s.Kind == KindSynthetic || isTokenIDs(s.Kind) {
			return fail("split", "split %q is not allowed for kind %s (it has no documents to split by)", s.Split, s.Kind)
		}
	}
	if s.Kind == KindSynthetic {
		if !slices.Contains(Generators(), s.Generator) {
			return fail("generator", "unknown generator %q (allowed: %s)", s.Generator, strings.Join(Generators(), ", "))
		}
		if s.Path != "" {
			return fail("path", "path %q not allowed for kind synthetic", s.Path)
		}
		if s.Tokens < 1000 {
			return fail("tokens", "tokens %d too small for a synthetic corpus (at least 1000)", s.Tokens)
		}
		if s.Tokens > MaxSyntheticTokens {
			return fail("tokens", "tokens %d too large for a synthetic corpus (at most %d: it is generated in memory)", s.Tokens, int64(MaxSyntheticTokens))
		}
		return nil
	}
	if s.Generator != "" {
		return fail("generator", "generator %q only allowed for kind synthetic", s.Generator)
	}
	if s.Field != "" && !hasField(s.Kind) {
		return fail("field", "field %q only allowed for kinds jsonl and parquet", s.Field)
	}
	if len(s.Groups) > 0 && s.Kind != KindEmail {
		return fail("groups", "groups only allowed for kind email, not %s", s.Kind)
	}
	switch s.Kind {
	case KindGoroot:
		if s.Path != "" {
			return fail("path", "path %q not allowed for kind goroot (it reads runtime.GOROOT())", s.Path)
		}
		return nil
	case KindText, KindJSONL, KindNanoGPT, KindLLMC, KindParquet, KindEmail:
		if s.Path == "" {
			return fail("path", "kind %s requires path", s.Kind)
		}
	}
	var err error
	switch s.Kind {
	case KindText:
		_, err = textFiles(s.Path)
	case KindJSONL:
		_, err = jsonlFiles(s.Path)
	case KindNanoGPT:
		for _, f := range []string{"train.bin", "val.bin"} {
			if ferr := regularFile(filepath.Join(s.Path, f)); ferr != nil {
				return fail("path", "nanogpt needs train.bin and val.bin: %w", ferr)
			}
		}
	case KindParquet:
		_, err = parquetFiles(s.Path)
	case KindLLMC:
		_, _, err = llmcShards(s.Path)
	case KindEmail:
		if _, err = emailFiles(s.Path, s.Groups); errors.As(err, new(groupsError)) {
			return &FieldError{Dataset: name, Field: "groups", Err: err}
		}
	}
	if err != nil {
		return &FieldError{Dataset: name, Field: "path", Err: err}
	}
	return nil
}

// ValidateTokenizer checks that the tokenizer spec t can be used with this
// dataset: nanogpt and llmc data hold token ids already and need kind ids
// (or an empty kind, meaning ids), and kind ids is allowed only with them.
func (s Spec) ValidateTokenizer(t tokenizer.Spec) error {
	t = s.TokenizerDefaults(t)
	if err := t.Validate(); err != nil {
		return fmt.Errorf("dataset %s: %w", s.Name, err)
	}
	if isTokenIDs(s.Kind) && t.Kind != tokenizer.KindIDs {
		return fmt.Errorf("dataset %s: %s data is already token ids; tokenizer kind must be %q, not %q", s.Name, s.Kind, tokenizer.KindIDs, t.Kind)
	}
	if !isTokenIDs(s.Kind) && t.Kind == tokenizer.KindIDs {
		return fmt.Errorf("dataset %s: tokenizer kind %q is only allowed with nanogpt or llmc data (kind is %q)", s.Name, tokenizer.KindIDs, s.Kind)
	}
	return nil
}

// TokenizerDefaults fills an empty tokenizer kind: ids for nanogpt and llmc
// data, char otherwise, and the other defaults of tokenizer.Spec.WithDefaults.
func (s Spec) TokenizerDefaults(t tokenizer.Spec) tokenizer.Spec {
	if t.Kind == "" && isTokenIDs(s.Kind) {
		t.Kind = tokenizer.KindIDs
	}
	return t.WithDefaults()
}

func regularFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("file %s does not exist", path)
		}
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	return nil
}
