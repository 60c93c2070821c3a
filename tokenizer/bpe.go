package tokenizer

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// maxCacheEntries bounds the per-tokenizer chunk cache of BPE.Encode; the
// cache is cleared when it grows past this many chunks.
const maxCacheEntries = 1 << 18

// maxCachedChunk is the longest chunk (bytes) kept in the cache; longer ones
// rarely repeat.
const maxCachedChunk = 256

// BPE is a byte-level byte-pair-encoding tokenizer in the style of minbpe's
// RegexTokenizer: text is split into chunks with the GPT-4 pattern (Split),
// each chunk's UTF-8 bytes are ids 0..255, and merge i joins a pair of ids
// into id 256+i. Encoding applies merges in the order they were learned.
type BPE struct {
	merges [][2]int32
	ranks  map[uint64]int32 // pair → merged id
	vocab  [][]byte         // id → bytes

	mu    sync.Mutex
	cache map[string][]int32
}

type bpeJSON struct {
	jsonHeader
	Pattern string     `json:"pattern"`
	Merges  [][2]int32 `json:"merges"`
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func newBPE(merges [][2]int32) (*BPE, error) {
	t := &BPE{
		merges: merges,
		ranks:  make(map[uint64]int32, len(merges)),
		vocab:  make([][]byte, 256+len(merges)),
		cache:  make(map[string][]int32),
	}
	for i := range 256 {
		t.vocab[i] = []byte{byte(i)}
	}
	for i, m := range merges {
		id := int32(256 + i)
		if m[0] < 0 || m[0] >= id || m[1] < 0 || m[1] >= id {
			return nil, fmt.Errorf("tokenizer: bpe merge %d (%d,%d) refers to an id not yet defined", i, m[0], m[1])
		}
		k := pairKey(m[0], m[1])
		if _, dup := t.ranks[k]; dup {
			return nil, fmt.Errorf("tokenizer: bpe merge %d (%d,%d) is a duplicate", i, m[0], m[1])
		}
		t.ranks[k] = id
		t.vocab[id] = append(slices.Clone(t.vocab[m[0]]), t.vocab[m[1]]...)
	}
	return t, nil
}

// Merges returns the learned merges in order; merge i creates id 256+i.
func (t *BPE) Merges() [][2]int32 { return slices.Clone(t.merges) }

// TokenBytes returns the bytes of token id (nil if out of range).
func (t *BPE) TokenBytes(id int32) []byte {
	if id < 0 || int(id) >= len(t.vocab) {
		return nil
	}
	return slices.Clone(t.vocab[id])
}

// VocabSize is 256 plus the number of merges.
func (t *BPE) VocabSize() int { return len(t.vocab) }

// Kind returns "bpe".
func (t *BPE) Kind() string { return KindBPE }

// MarshalJSON writes {"kind":"bpe","version":1,"pattern":"gpt4","merges":[[a,b],...]}.
func (t *BPE) MarshalJSON() ([]byte, error) {
	return json.Marshal(bpeJSON{jsonHeader{KindBPE, formatVersion}, PatternGPT4, t.merges})
}

// Decode concatenates the bytes of ids; invalid UTF-8 and unknown ids become U+FFFD.
func (t *BPE) Decode(ids []int32) string {
	var b []byte
	for _, id := range ids {
		if id < 0 || int(id) >= len(t.vocab) {
			b = utf8.AppendRune(b, utf8.RuneError)
			continue
		}
		b = append(b, t.vocab[id]...)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// Encode splits s into chunks and encodes each (cached per distinct chunk).
func (t *BPE) Encode(s string) []int32 {
	out := make([]int32, 0, len(s)/3+1)
	for i := 0; i < len(s); {
		j := nextChunk(s, i)
		out = t.appendChunk(out, s[i:j])
		i = j
	}
	return out
}

func (t *BPE) appendChunk(out []int32, chunk string) []int32 {
	if len(chunk) > maxCachedChunk {
		return append(out, t.encodeChunk(chunk)...)
	}
	t.mu.Lock()
	ids, ok := t.cache[chunk]
	t.mu.Unlock()
	if ok {
		return append(out, ids...)
	}
	ids = t.encodeChunk(chunk)
	t.mu.Lock()
	if len(t.cache) >= maxCacheEntries {
		clear(t.cache)
	}
	t.cache[strings.Clone(chunk)] = ids
	t.mu.Unlock()
	return append(out, ids...)
}

// longChunk is the chunk length (bytes) from which encodeChunk switches from
// the quadratic rescanning loop to the heap-based merge.
const longChunk = 64

// encodeChunk applies merges to one chunk: repeatedly merge the adjacent pair
// with the lowest merged id (the earliest merge), all occurrences left to right.
func (t *BPE) encodeChunk(chunk string) []int32 {
	if len(chunk) >= longChunk {
		return t.encodeLong(chunk)
	}
	ids := make([]int32, len(chunk))
	for i := 0; i < len(chunk); i++ {
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

// encodeLong is encodeChunk in O(n log n) for long chunks (a line of DNA or
// minified text can be one chunk): a doubly linked list of tokens and a heap
// of candidate merges ordered by (merged id, position). Merged ids only grow
// along a chain of merges, so popping in this order merges exactly what
// encodeChunk merges.
func (t *BPE) encodeLong(chunk string) []int32 {
	n := len(chunk)
	ids := make([]int32, n)
	next := make([]int32, n)
	prev := make([]int32, n)
	for i := range n {
		ids[i], prev[i], next[i] = int32(chunk[i]), int32(i-1), int32(i+1)
	}
	next[n-1] = -1
	h := priorityQueue[mergeCand]{less: mergeFirst}
	push := func(i int32) {
		if i < 0 || next[i] < 0 {
			return
		}
		if id, ok := t.ranks[pairKey(ids[i], ids[next[i]])]; ok {
			h.push(mergeCand{id, i, ids[i], ids[next[i]]})
		}
	}
	for i := range n - 1 {
		push(int32(i))
	}
	for h.Len() > 0 {
		c := h.pop()
		j := next[c.pos]
		if ids[c.pos] != c.left || j < 0 || ids[j] != c.right || ids[c.pos] < 0 {
			continue // stale: one side was merged already
		}
		ids[c.pos] = c.id
		ids[j] = -1 // dead
		next[c.pos] = next[j]
		if next[j] >= 0 {
			prev[next[j]] = c.pos
		}
		push(prev[c.pos])
		push(c.pos)
	}
	out := make([]int32, 0, n/2)
	for i := int32(0); i >= 0; i = next[i] {
		out = append(out, ids[i])
	}
	return out
}

// mergeCand is a candidate merge of the tokens at pos and its successor.
type mergeCand struct {
	id, pos, left, right int32
}

// mergeFirst orders encode candidates: lowest merge rank (id) first, then
// leftmost position.
func mergeFirst(a, b mergeCand) bool {
	if a.id != b.id {
		return a.id < b.id
	}
	return a.pos < b.pos
}

// mergeInPlace replaces every non-overlapping (a,b), left to right, by id.
func mergeInPlace(ids []int32, a, b, id int32) []int32 {
	w := 0
	for r := 0; r < len(ids); {
		if r+1 < len(ids) && ids[r] == a && ids[r+1] == b {
			ids[w] = id
			r += 2
		} else {
			ids[w] = ids[r]
			r++
		}
		w++
	}
	return ids[:w]
}

// heapEntry is a candidate merge; stale entries (count differs from the
// current count) are skipped when popped.
type heapEntry struct {
	count int64
	pair  uint64
}

// mostFrequentPair orders training candidates: highest count first, ties
// broken by the lowest pair (first id, then second id), which makes training
// deterministic.
func mostFrequentPair(a, b heapEntry) bool {
	if a.count != b.count {
		return a.count > b.count
	}
	return a.pair < b.pair
}

// TrainBPE learns up to vocabSize-256 merges from text. Text is split into
// chunks (Split); each distinct chunk is counted once and merges run over
// chunk types weighted by their counts, with incremental pair-count updates.
// Each step merges the most frequent adjacent pair; ties go to the lowest pair
// (first id, then second id). Training stops early when no pair is left.
func TrainBPE(text string, vocabSize int) (*BPE, error) {
	return trainBPE(context.Background(), text, vocabSize)
}

// trainBPE is TrainBPE, stopping with ctx's error when ctx is done.
func trainBPE(ctx context.Context, text string, vocabSize int) (*BPE, error) {
	if vocabSize < 256 {
		return nil, fmt.Errorf("tokenizer: bpe vocab_size %d below 256", vocabSize)
	}
	chunkCounts := make(map[string]int64)
	for i := 0; i < len(text); {
		j := nextChunk(text, i)
		chunkCounts[text[i:j]]++
		i = j
	}
	chunks := make([]string, 0, len(chunkCounts))
	for c := range chunkCounts {
		chunks = append(chunks, c)
	}
	slices.Sort(chunks)
	words := make([][]int32, len(chunks))
	counts := make([]int64, len(chunks))
	pairCounts := make(map[uint64]int64)
	where := make(map[uint64][]int32)
	for wi, c := range chunks {
		w := make([]int32, len(c))
		for i := 0; i < len(c); i++ {
			w[i] = int32(c[i])
		}
		words[wi], counts[wi] = w, chunkCounts[c]
		for i := 0; i+1 < len(w); i++ {
			k := pairKey(w[i], w[i+1])
			pairCounts[k] += counts[wi]
			if l := where[k]; len(l) == 0 || l[len(l)-1] != int32(wi) {
				where[k] = append(l, int32(wi))
			}
		}
	}
	h := priorityQueue[heapEntry]{items: make([]heapEntry, 0, len(pairCounts)), less: mostFrequentPair}
	for k, c := range pairCounts {
		h.push(heapEntry{c, k})
	}
	stamp := make([]int32, len(words))
	for i := range stamp {
		stamp[i] = -1
	}
	before := make(map[uint64]int64) // pair counts before this merge, for touched pairs
	merges := make([][2]int32, 0, vocabSize-256)
	for len(merges) < vocabSize-256 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var top heapEntry
		found := false
		for h.Len() > 0 {
			top = h.pop()
			if c := pairCounts[top.pair]; c == top.count && c > 0 {
				found = true
				break
			}
		}
		if !found {
			break
		}
		a, b := int32(top.pair>>32), int32(uint32(top.pair))
		id := int32(256 + len(merges))
		mi := int32(len(merges))
		merges = append(merges, [2]int32{a, b})
		clear(before)
		touch := func(k uint64, d int64) {
			if _, ok := before[k]; !ok {
				before[k] = pairCounts[k]
			}
			pairCounts[k] += d
		}
		for _, wi := range where[top.pair] {
			if stamp[wi] == mi {
				continue
			}
			stamp[wi] = mi
			w, c := words[wi], counts[wi]
			has := false
			for i := 0; i+1 < len(w); i++ {
				if w[i] == a && w[i+1] == b {
					has = true
					break
				}
			}
			if !has {
				continue
			}
			for i := 0; i+1 < len(w); i++ {
				touch(pairKey(w[i], w[i+1]), -c)
			}
			w = mergeInPlace(w, a, b, id)
			words[wi] = w
			for i := 0; i+1 < len(w); i++ {
				k := pairKey(w[i], w[i+1])
				touch(k, c)
				if w[i] == id || w[i+1] == id {
					if l := where[k]; len(l) == 0 || l[len(l)-1] != wi {
						where[k] = append(l, wi)
					}
				}
			}
		}
		delete(where, top.pair)
		for k, old := range before {
			c := pairCounts[k]
			if c == 0 {
				delete(pairCounts, k)
				continue
			}
			if c != old {
				h.push(heapEntry{c, k})
			}
		}
	}
	return newBPE(merges)
}
