package data

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/tokenizer"
)

// writeShard writes an llm.c token shard: the 256 × int32 header (magic,
// version, count) and the tokens (uint16 for version 1, uint32 for 2).
// count < 0 writes len(ids) as the count.
func writeShard(t *testing.T, path string, magic, version, count int32, ids []uint32) {
	t.Helper()
	if count < 0 {
		count = int32(len(ids))
	}
	b := make([]byte, llmcHeaderBytes)
	binary.LittleEndian.PutUint32(b[0:], uint32(magic))
	binary.LittleEndian.PutUint32(b[4:], uint32(version))
	binary.LittleEndian.PutUint32(b[8:], uint32(count))
	for _, id := range ids {
		if version == 2 {
			b = binary.LittleEndian.AppendUint32(b, id)
		} else {
			b = binary.LittleEndian.AppendUint16(b, uint16(id))
		}
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadLLMC(t *testing.T) {
	dir := t.TempDir()
	writeShard(t, filepath.Join(dir, "fineweb_train_000002.bin"), LLMCMagic, 1, -1, []uint32{50256, 7, 8})
	writeShard(t, filepath.Join(dir, "fineweb_train_000001.bin"), LLMCMagic, 1, -1, []uint32{50256, 1, 2, 3})
	writeShard(t, filepath.Join(dir, "fineweb_val_000000.bin"), LLMCMagic, 1, -1, []uint32{50256, 9, 10})
	os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not a shard"), 0o644)
	c, err := Load(context.Background(), Spec{Kind: KindLLMC, Path: dir}, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []int32{50256, 1, 2, 3, 50256, 7, 8}; !slices.Equal(c.TrainIDs, want) {
		t.Errorf("train %v, want %v (shards in sorted order, no header tokens)", c.TrainIDs, want)
	}
	if want := []int32{50256, 9, 10}; !slices.Equal(c.ValIDs, want) || c.MaxID != 50256 || c.Files != 3 {
		t.Errorf("val %v max %d files %d", c.ValIDs, c.MaxID, c.Files)
	}
	// tokens caps train across shards.
	c, err = Load(context.Background(), Spec{Kind: KindLLMC, Path: dir, Tokens: 5, ValFraction: 0.5}, "")
	if err != nil || !slices.Equal(c.TrainIDs, []int32{50256, 1, 2, 3, 50256}) || len(c.ValIDs) != 3 {
		t.Fatalf("capped: %v %+v", err, c)
	}
	// Prepare uses the ids tokenizer by default.
	p, err := Prepare(context.Background(), Spec{Kind: KindLLMC, Path: dir}, tokenizer.Spec{}, "")
	if err != nil || p.Tokenizer.Kind() != tokenizer.KindIDs || p.Tokenizer.VocabSize() != 50257 {
		t.Fatalf("prepare: %v %+v", err, p)
	}
	if err := (Spec{Kind: KindLLMC, Path: dir}).ValidateTokenizer(tokenizer.Spec{Kind: tokenizer.KindChar}); err == nil || !strings.Contains(err.Error(), "llmc data is already token ids") {
		t.Errorf("char tokenizer on llmc: %v", err)
	}

	// Version 2 holds uint32 tokens (Llama 3 vocabularies).
	v2 := t.TempDir()
	writeShard(t, filepath.Join(v2, "x_train.bin"), LLMCMagic, 2, -1, []uint32{128000, 5, 6})
	writeShard(t, filepath.Join(v2, "x_val.bin"), LLMCMagic, 2, -1, []uint32{128001, 4})
	c, err = Load(context.Background(), Spec{Kind: KindLLMC, Path: v2}, "")
	if err != nil || !slices.Equal(c.TrainIDs, []int32{128000, 5, 6}) || c.MaxID != 128001 {
		t.Fatalf("version 2: %v %+v", err, c)
	}
}

// TestNanoGPTReadsLLMCShards checks that a nanogpt train.bin/val.bin with the
// llm.c magic is read as a shard, never as raw uint16 ids (which would start
// with 512 header "tokens": 54440, 308, 1, 0, count, 0, ...).
func TestNanoGPTReadsLLMCShards(t *testing.T) {
	dir := t.TempDir()
	writeShard(t, filepath.Join(dir, "train.bin"), LLMCMagic, 1, -1, []uint32{1, 2, 3, 4})
	writeBin(t, filepath.Join(dir, "val.bin"), []uint16{5, 6})
	c, err := Load(context.Background(), Spec{Kind: KindNanoGPT, Path: dir}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.TrainIDs, []int32{1, 2, 3, 4}) || !slices.Equal(c.ValIDs, []int32{5, 6}) || c.MaxID != 6 {
		t.Errorf("train %v val %v max %d", c.TrainIDs, c.ValIDs, c.MaxID)
	}
}

func TestLLMCErrors(t *testing.T) {
	ids := []uint32{1, 2, 3, 4}
	cases := []struct {
		name  string
		write func(t *testing.T, dir string)
		want  string
	}{
		{"wrong version", func(t *testing.T, dir string) {
			writeShard(t, filepath.Join(dir, "a_train.bin"), LLMCMagic, 7, -1, ids)
		}, "a_train.bin: llm.c shard version 7 is not supported (1: uint16 tokens, 2: uint32 tokens)"},
		{"truncated tokens", func(t *testing.T, dir string) {
			writeShard(t, filepath.Join(dir, "a_train.bin"), LLMCMagic, 1, 10, ids)
		}, "a_train.bin: llm.c shard truncated: header says 10 tokens (1044 bytes), file has 1032 bytes"},
		{"trailing bytes", func(t *testing.T, dir string) {
			writeShard(t, filepath.Join(dir, "a_train.bin"), LLMCMagic, 1, 2, ids)
		}, "llm.c shard has trailing bytes: header says 2 tokens (1028 bytes), file has 1032 bytes"},
		{"truncated header", func(t *testing.T, dir string) {
			b := binary.LittleEndian.AppendUint32(nil, LLMCMagic)
			os.WriteFile(filepath.Join(dir, "a_train.bin"), append(b, 1, 0, 0, 0), 0o644)
		}, "a_train.bin: truncated llm.c shard: 8 bytes, shorter than the 1024-byte header"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.write(t, dir)
			writeShard(t, filepath.Join(dir, "a_val.bin"), LLMCMagic, 1, -1, ids)
			_, err := Load(context.Background(), Spec{Kind: KindLLMC, Path: dir}, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("llmc: error = %v, want containing %q", err, tc.want)
			}
			// The same file as nanogpt's train.bin gets the same error.
			os.Rename(filepath.Join(dir, "a_train.bin"), filepath.Join(dir, "train.bin"))
			os.Rename(filepath.Join(dir, "a_val.bin"), filepath.Join(dir, "val.bin"))
			_, err = Load(context.Background(), Spec{Kind: KindNanoGPT, Path: dir}, "")
			if want := strings.ReplaceAll(tc.want, "a_train.bin", "train.bin"); err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("nanogpt: error = %v, want containing %q", err, want)
			}
		})
	}

	// A file without the magic is an error for llmc (for nanogpt it is raw
	// uint16 ids): 100 zero bytes used to load as 50 token ids.
	raw := t.TempDir()
	os.WriteFile(filepath.Join(raw, "a_train.bin"), make([]byte, 100), 0o644)
	writeShard(t, filepath.Join(raw, "a_val.bin"), LLMCMagic, 1, -1, ids)
	_, err := Load(context.Background(), Spec{Kind: KindLLMC, Path: raw}, "")
	if want := "a_train.bin: not an llm.c shard: it does not start with the magic 20240520 (raw uint16 ids are kind nanogpt's train.bin and val.bin)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("raw file as llmc: error = %v, want containing %q", err, want)
	}

	noVal := t.TempDir()
	writeShard(t, filepath.Join(noVal, "a_train.bin"), LLMCMagic, 1, -1, ids)
	err = Spec{Kind: KindLLMC, Path: noVal}.Validate()
	if err == nil || !strings.Contains(err.Error(), "has 1 train and 0 val shards") {
		t.Errorf("no val shard: %v", err)
	}
	err = Spec{Kind: KindLLMC, Path: filepath.Join(noVal, "a_train.bin")}.Validate()
	if err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Errorf("file path: %v", err)
	}
}
