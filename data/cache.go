package data

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// cacheMagic starts every cache entry file.
const cacheMagic = "TSPREP01"

// DefaultCacheDir returns $TINYSCALE_CACHE if set, else
// os.UserCacheDir()/tinyscale ($XDG_CACHE_HOME/tinyscale or
// ~/.cache/tinyscale on Linux), else .tinyscale-cache in the working directory.
func DefaultCacheDir() string {
	if d := os.Getenv("TINYSCALE_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil && d != "" {
		return filepath.Join(d, "tinyscale")
	}
	return ".tinyscale-cache"
}

// cacheEntry is what a cache file holds.
type cacheEntry struct {
	tokenizerJSON []byte
	train, val    []int32
	bytesPerToken float64
}

// encodeEntry lays out: magic | u32 len | tokenizer JSON | u64 n | n×int32
// train | u64 n | n×int32 val | f64 bytes per token | sha256 of all before.
func encodeEntry(e cacheEntry) []byte {
	n := len(cacheMagic) + 4 + len(e.tokenizerJSON) + 8 + 4*len(e.train) + 8 + 4*len(e.val) + 8 + sha256.Size
	b := make([]byte, 0, n)
	b = append(b, cacheMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(e.tokenizerJSON)))
	b = append(b, e.tokenizerJSON...)
	for _, s := range [][]int32{e.train, e.val} {
		b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
		for _, id := range s {
			b = binary.LittleEndian.AppendUint32(b, uint32(id))
		}
	}
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(e.bytesPerToken))
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// errCorrupt marks a cache file that fails its checks.
var errCorrupt = errors.New("corrupt cache entry")

func decodeEntry(b []byte) (cacheEntry, error) {
	var e cacheEntry
	if len(b) < len(cacheMagic)+sha256.Size || string(b[:len(cacheMagic)]) != cacheMagic {
		return e, fmt.Errorf("%w: bad magic or too short (%d bytes)", errCorrupt, len(b))
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return e, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	r := body[len(cacheMagic):]
	take := func(n uint64) ([]byte, error) {
		if n > uint64(len(r)) {
			return nil, fmt.Errorf("%w: truncated", errCorrupt)
		}
		out := r[:n]
		r = r[n:]
		return out, nil
	}
	h, err := take(4)
	if err != nil {
		return e, err
	}
	if e.tokenizerJSON, err = take(uint64(binary.LittleEndian.Uint32(h))); err != nil {
		return e, err
	}
	for _, dst := range []*[]int32{&e.train, &e.val} {
		h, err := take(8)
		if err != nil {
			return e, err
		}
		n := binary.LittleEndian.Uint64(h)
		if n > uint64(len(r))/4 {
			return e, fmt.Errorf("%w: truncated ids", errCorrupt)
		}
		raw, _ := take(4 * n)
		ids := make([]int32, n)
		for i := range ids {
			ids[i] = int32(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		*dst = ids
	}
	h, err = take(8)
	if err != nil {
		return e, err
	}
	e.bytesPerToken = math.Float64frombits(binary.LittleEndian.Uint64(h))
	if len(r) != 0 {
		return e, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(r))
	}
	return e, nil
}
