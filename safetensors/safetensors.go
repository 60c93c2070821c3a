// Package safetensors reads and writes the safetensors file format
// (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON header, then the tensor data.
//
// The header maps each tensor name to {"dtype", "shape", "data_offsets"}
// (offsets relative to the start of the data section) and may hold a
// "__metadata__" object of string to string. Like the reference
// implementation, the writer pads the header with spaces to a multiple of 8
// bytes, writes "__metadata__" first and lays the data out by descending
// dtype (I64, F32, I32) then by name. The reader validates everything: header
// bounds, JSON syntax, duplicate keys, dtypes, shapes, and that the data
// offsets tile the data section exactly, in order, without gaps or overlap.
//
// Only the dtypes tinyscale needs are supported: F32, I32 and I64. All data
// is little-endian.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"

	"github.com/tinyscale/tinyscale/internal/atomicfile"
)

// DType is a tensor element type as spelled in the header.
type DType string

// Supported dtypes.
const (
	F32 DType = "F32"
	I32 DType = "I32"
	I64 DType = "I64"
)

// Size is the number of bytes of one element, or 0 for an unsupported dtype.
func (d DType) Size() int {
	switch d {
	case F32, I32:
		return 4
	case I64:
		return 8
	}
	return 0
}

// rank orders dtypes as the reference implementation's Dtype enum does.
func (d DType) rank() int {
	switch d {
	case I32:
		return 1
	case F32:
		return 2
	case I64:
		return 3
	}
	return 0
}

// MaxHeaderSize bounds the JSON header accepted by Read (the reference
// implementation uses the same 100 MB limit).
const MaxHeaderSize = 100_000_000

// metadataKey is the reserved header key holding the string metadata.
const metadataKey = "__metadata__"

// Tensor is one named tensor with its raw little-endian data.
type Tensor struct {
	// Name is the key in the header.
	Name string
	// DType is the element type.
	DType DType
	// Shape is the tensor shape (empty for a scalar).
	Shape []int
	// Data holds len = product(Shape) * DType.Size() bytes, little-endian.
	Data []byte
}

// FromFloat32 builds an F32 tensor. It panics if len(v) does not match shape,
// which is a programming error.
func FromFloat32(name string, shape []int, v []float32) Tensor {
	mustLen(name, shape, len(v))
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return Tensor{Name: name, DType: F32, Shape: cloneShape(shape), Data: b}
}

// FromInt32 builds an I32 tensor. It panics if len(v) does not match shape.
func FromInt32(name string, shape []int, v []int32) Tensor {
	mustLen(name, shape, len(v))
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return Tensor{Name: name, DType: I32, Shape: cloneShape(shape), Data: b}
}

// FromInt64 builds an I64 tensor. It panics if len(v) does not match shape.
func FromInt64(name string, shape []int, v []int64) Tensor {
	mustLen(name, shape, len(v))
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return Tensor{Name: name, DType: I64, Shape: cloneShape(shape), Data: b}
}

// cloneShape copies shape, never returning nil (a scalar has shape []).
func cloneShape(shape []int) []int {
	s := make([]int, len(shape))
	copy(s, shape)
	return s
}

func mustLen(name string, shape []int, n int) {
	if numel(shape) != n {
		panic(fmt.Sprintf("safetensors: tensor %q: %d values for shape %v", name, n, shape))
	}
}

// numel is the product of shape (1 for a scalar).
func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// Numel is the number of elements.
func (t Tensor) Numel() int { return numel(t.Shape) }

// Float32s decodes an F32 tensor.
func (t Tensor) Float32s() ([]float32, error) {
	if t.DType != F32 {
		return nil, fmt.Errorf("tensor %q has dtype %s, want F32", t.Name, t.DType)
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	v := make([]float32, len(t.Data)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return v, nil
}

// Int32s decodes an I32 tensor.
func (t Tensor) Int32s() ([]int32, error) {
	if t.DType != I32 {
		return nil, fmt.Errorf("tensor %q has dtype %s, want I32", t.Name, t.DType)
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	v := make([]int32, len(t.Data)/4)
	for i := range v {
		v[i] = int32(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return v, nil
}

// Int64s decodes an I64 tensor.
func (t Tensor) Int64s() ([]int64, error) {
	if t.DType != I64 {
		return nil, fmt.Errorf("tensor %q has dtype %s, want I64", t.Name, t.DType)
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	v := make([]int64, len(t.Data)/8)
	for i := range v {
		v[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return v, nil
}

// check verifies dtype, shape and data length agree.
func (t Tensor) check() error {
	size := t.DType.Size()
	if size == 0 {
		return fmt.Errorf("tensor %q: unsupported dtype %q (supported: F32, I32, I64)", t.Name, t.DType)
	}
	n, err := checkedNumel(t.Shape)
	if err != nil {
		return fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	if n > math.MaxInt/size || n*size != len(t.Data) {
		return fmt.Errorf("tensor %q: shape %v of %s needs %d bytes, has %d", t.Name, t.Shape, t.DType, n*size, len(t.Data))
	}
	return nil
}

// checkedNumel is numel with negative-dimension and overflow checks.
func checkedNumel(shape []int) (int, error) {
	n := 1
	for _, s := range shape {
		if s < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if s != 0 && n > math.MaxInt/s {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n *= s
	}
	return n, nil
}

// File is the content of one safetensors file.
type File struct {
	// Metadata is the header's "__metadata__" map (nil when absent).
	Metadata map[string]string
	// Tensors in data order when read; any order when written.
	Tensors []Tensor
}

// Get returns the tensor called name.
func (f *File) Get(name string) (Tensor, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

// headerEntry is one tensor's header record.
type headerEntry struct {
	DType       DType   `json:"dtype"`
	Shape       []int   `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// Encode serialises f. Tensor names must be unique, non-empty and not
// "__metadata__"; every tensor's data must match its dtype and shape.
func Encode(f *File) ([]byte, error) {
	ts := append([]Tensor(nil), f.Tensors...)
	seen := make(map[string]bool, len(ts))
	for _, t := range ts {
		if t.Name == "" || t.Name == metadataKey {
			return nil, fmt.Errorf("invalid tensor name %q", t.Name)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("duplicate tensor name %q", t.Name)
		}
		seen[t.Name] = true
		if err := t.check(); err != nil {
			return nil, err
		}
	}
	// Data order of the reference writer: descending dtype (in the order of
	// its Dtype enum: ... I32 < F32 < I64 ...), then by name.
	sort.SliceStable(ts, func(i, j int) bool {
		if a, b := ts[i].DType.rank(), ts[j].DType.rank(); a != b {
			return a > b
		}
		return ts[i].Name < ts[j].Name
	})

	var hdr bytes.Buffer
	hdr.WriteByte('{')
	first := true
	writeKey := func(k string) {
		if !first {
			hdr.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		hdr.Write(kb)
		hdr.WriteByte(':')
	}
	if len(f.Metadata) > 0 {
		writeKey(metadataKey)
		mb, err := json.Marshal(f.Metadata) // map keys are sorted
		if err != nil {
			return nil, fmt.Errorf("encode metadata: %w", err)
		}
		hdr.Write(mb)
	}
	var off int64
	for _, t := range ts {
		writeKey(t.Name)
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		e := headerEntry{DType: t.DType, Shape: shape, DataOffsets: []int64{off, off + int64(len(t.Data))}}
		eb, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("encode header of %q: %w", t.Name, err)
		}
		hdr.Write(eb)
		off += int64(len(t.Data))
	}
	hdr.WriteByte('}')
	for hdr.Len()%8 != 0 {
		hdr.WriteByte(' ')
	}
	out := make([]byte, 8, 8+hdr.Len()+int(off))
	binary.LittleEndian.PutUint64(out, uint64(hdr.Len()))
	out = append(out, hdr.Bytes()...)
	for _, t := range ts {
		out = append(out, t.Data...)
	}
	return out, nil
}

// Write serialises f to w.
func Write(w io.Writer, f *File) error {
	b, err := Encode(f)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write safetensors: %w", err)
	}
	return nil
}

// WriteFile writes f to path atomically: a temporary file in the same
// directory is written, synced and renamed over path, so a crash never
// leaves a half-written file under that name.
func WriteFile(path string, f *File) error {
	b, err := Encode(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := atomicfile.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write safetensors: %w", err)
	}
	return nil
}

// ReadFile reads and validates the safetensors file at path.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read safetensors: %w", err)
	}
	f, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Decode parses and validates a whole safetensors file held in b. The
// returned tensors alias b.
func Decode(b []byte) (*File, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("file of %d bytes is too short for the 8-byte header length", len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	if n > uint64(len(b)-8) {
		return nil, fmt.Errorf("header length %d exceeds the %d bytes after the length field", n, len(b)-8)
	}
	hdr := b[8 : 8+n]
	data := b[8+n:]
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, errors.New("header does not start with '{'")
	}
	f := &File{}
	entries, err := parseHeader(hdr, f)
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	// Offsets must tile the data section exactly.
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].DataOffsets[0] < entries[j].DataOffsets[0] })
	var pos int64
	for _, e := range entries {
		begin, end := e.DataOffsets[0], e.DataOffsets[1]
		if begin != pos {
			return nil, fmt.Errorf("tensor %q starts at offset %d, want %d (gap or overlap)", e.name, begin, pos)
		}
		if end < begin {
			return nil, fmt.Errorf("tensor %q has data_offsets [%d, %d] with end before begin", e.name, begin, end)
		}
		if end > int64(len(data)) {
			return nil, fmt.Errorf("tensor %q ends at offset %d beyond the %d data bytes", e.name, end, len(data))
		}
		t := Tensor{Name: e.name, DType: e.DType, Shape: e.Shape, Data: data[begin:end:end]}
		if err := t.check(); err != nil {
			return nil, err
		}
		f.Tensors = append(f.Tensors, t)
		pos = end
	}
	if pos != int64(len(data)) {
		return nil, fmt.Errorf("tensors cover %d of the %d data bytes", pos, len(data))
	}
	return f, nil
}

type namedEntry struct {
	name string
	headerEntry
}

// parseHeader walks the header object token by token so that duplicate keys
// and trailing garbage are rejected rather than ignored. Unknown fields inside
// a tensor entry are ignored, as the reference reader does.
func parseHeader(hdr []byte, f *File) ([]namedEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	seen := map[string]bool{}
	var entries []namedEntry
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("invalid JSON key %v", tok)
		}
		if seen[key] {
			return nil, fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("value of %q: %w", key, err)
		}
		if key == metadataKey {
			if err := json.Unmarshal(raw, &f.Metadata); err != nil {
				return nil, fmt.Errorf("__metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", key, err)
		}
		if e.DType.Size() == 0 {
			return nil, fmt.Errorf("tensor %q: unsupported dtype %q (supported: F32, I32, I64)", key, e.DType)
		}
		if e.Shape == nil {
			return nil, fmt.Errorf("tensor %q: missing shape", key)
		}
		if len(e.DataOffsets) != 2 {
			return nil, fmt.Errorf("tensor %q: data_offsets must be [begin, end], got %v", key, e.DataOffsets)
		}
		entries = append(entries, namedEntry{name: key, headerEntry: e})
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, fmt.Errorf("unterminated JSON object: %v", err)
	}
	// Only the reference writer's space padding may follow.
	rest := hdr[dec.InputOffset():]
	if len(bytes.TrimRight(rest, " ")) != 0 {
		return nil, fmt.Errorf("unexpected bytes after the header object: %s", strconv.Quote(string(rest[:min(len(rest), 32)])))
	}
	return entries, nil
}
