package data

import (
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// llm.c / modded-nanogpt token shards: a header of 256 little-endian int32
// (magic, version, token count, then zeros) followed by the tokens.
const (
	// LLMCMagic is header[0] of an llm.c token shard.
	LLMCMagic = 20240520
	// llmcHeaderBytes is the size of the 256 × int32 header.
	llmcHeaderBytes = 256 * 4
)

// llmcTokenBytes maps a shard version to its token width: llm.c writes
// version 1 for uint16 (GPT-2) tokens and version 2 for uint32 (Llama 3).
var llmcTokenBytes = map[int32]int64{1: 2, 2: 4}

// isLLMCShard reports whether head (the first bytes of a file) starts with
// the llm.c magic.
func isLLMCShard(head []byte) bool {
	return len(head) >= 4 && int32(binary.LittleEndian.Uint32(head)) == LLMCMagic
}

// readTokenFile reads a .bin token file: an llm.c shard when it starts with
// LLMCMagic (the header is checked against the file size), else raw
// little-endian uint16 ids as nanoGPT's prepare.py writes them. It returns at
// most limit ids (0: all) and the bytes hashed for the content hash. With
// shardsOnly (kind llmc) a file without the magic is an error.
func readTokenFile(path string, limit int64, shardsOnly bool) ([]int32, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err // *fs.PathError: "open PATH: reason"
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("stat %s: %w", path, err)
	}
	var head [4]byte
	if _, err := f.ReadAt(head[:], 0); err == nil && isLLMCShard(head[:]) {
		return readLLMCShard(f, path, fi.Size(), limit)
	}
	if shardsOnly {
		return nil, nil, fmt.Errorf("%s: not an llm.c shard: it does not start with the magic %d (raw uint16 ids are kind nanogpt's train.bin and val.bin)", path, LLMCMagic)
	}
	if fi.Size()%2 != 0 {
		return nil, nil, fmt.Errorf("%s: size %d is odd; nanogpt .bin files hold little-endian uint16 ids", path, fi.Size())
	}
	n := fi.Size() / 2
	if limit > 0 && limit < n {
		n = limit
	}
	raw := make([]byte, 2*n)
	if _, err := io.ReadFull(f, raw); err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(binary.LittleEndian.Uint16(raw[2*i:]))
	}
	return ids, raw, nil
}

// readLLMCShard reads the shard f (of the given size) after checking its
// header: a known version and a token count that matches the file size.
func readLLMCShard(f *os.File, path string, size, limit int64) ([]int32, []byte, error) {
	if size < llmcHeaderBytes {
		return nil, nil, fmt.Errorf("%s: truncated llm.c shard: %d bytes, shorter than the %d-byte header", path, size, llmcHeaderBytes)
	}
	hdr := make([]byte, llmcHeaderBytes)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	version := int32(binary.LittleEndian.Uint32(hdr[4:]))
	count := int64(int32(binary.LittleEndian.Uint32(hdr[8:])))
	width, ok := llmcTokenBytes[version]
	if !ok {
		return nil, nil, fmt.Errorf("%s: llm.c shard version %d is not supported (1: uint16 tokens, 2: uint32 tokens)", path, version)
	}
	if count < 0 {
		return nil, nil, fmt.Errorf("%s: llm.c shard header has a negative token count %d", path, count)
	}
	if want := llmcHeaderBytes + count*width; size != want {
		what := "truncated"
		if size > want {
			what = "has trailing bytes"
		}
		return nil, nil, fmt.Errorf("%s: llm.c shard %s: header says %d tokens (%d bytes), file has %d bytes", path, what, count, want, size)
	}
	n := count
	if limit > 0 && limit < n {
		n = limit
	}
	raw := make([]byte, n*width)
	if _, err := f.ReadAt(raw, llmcHeaderBytes); err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	ids := make([]int32, n)
	for i := range ids {
		if width == 2 {
			ids[i] = int32(binary.LittleEndian.Uint16(raw[2*i:]))
			continue
		}
		v := binary.LittleEndian.Uint32(raw[4*i:])
		if v > 1<<31-1 {
			return nil, nil, fmt.Errorf("%s: token %d at position %d does not fit int32", path, v, i)
		}
		ids[i] = int32(v)
	}
	return ids, raw, nil
}

// llmcShards returns the sorted train and val shards of an llmc Path: the
// *.bin files of the directory whose names contain "train" (train) or
// else "val" (val).
func llmcShards(dir string) (train, val []string, err error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("path %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, nil, fmt.Errorf("path %s is not a directory (llmc wants the directory holding *_train_*.bin and *_val_*.bin shards)", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, ".bin") || strings.HasPrefix(name, ".") {
			continue
		}
		switch {
		case strings.Contains(name, "train"):
			train = append(train, filepath.Join(dir, name))
		case strings.Contains(name, "val"):
			val = append(val, filepath.Join(dir, name))
		}
	}
	if len(train) == 0 || len(val) == 0 {
		return nil, nil, fmt.Errorf("directory %s has %d train and %d val shards; llmc needs *.bin files named with \"train\" and with \"val\" (e.g. fineweb_train_000001.bin, fineweb_val_000000.bin)", dir, len(train), len(val))
	}
	slices.Sort(train)
	slices.Sort(val)
	return train, val, nil
}

// readTokenFiles concatenates the token files in order, up to limit ids
// (0: all), writing the bytes read (the ids as stored) to h. It returns the
// ids and the number of files read.
func readTokenFiles(files []string, limit int64, h hash.Hash, shardsOnly bool) ([]int32, int, error) {
	var ids []int32
	n := 0
	for _, f := range files {
		left := int64(0)
		if limit > 0 {
			left = limit - int64(len(ids))
			if left <= 0 {
				break
			}
		}
		got, raw, err := readTokenFile(f, left, shardsOnly)
		if err != nil {
			return nil, 0, err
		}
		h.Write(raw)
		ids = append(ids, got...)
		n++
	}
	return ids, n, nil
}
