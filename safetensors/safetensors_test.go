package safetensors

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sample() *File {
	return &File{
		Metadata: map[string]string{"format": "pt", "config": `{"n_embd":8}`},
		Tensors: []Tensor{
			FromFloat32("w", []int{2, 3}, []float32{1, -2, 3.5, 0, 1e-30, -7}),
			FromInt32("inputs", []int{4}, []int32{0, 1, -1, 1 << 30}),
			FromInt64("steps", []int{}, []int64{-5}),
			FromFloat32("empty", []int{0, 3}, nil),
		},
	}
}

func TestRoundTrip(t *testing.T) {
	want := sample()
	b, err := Encode(want)
	if err != nil {
		t.Fatal(err)
	}
	hlen := binary.LittleEndian.Uint64(b)
	if hlen%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", hlen)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Metadata, want.Metadata) {
		t.Errorf("metadata = %v, want %v", got.Metadata, want.Metadata)
	}
	if len(got.Tensors) != len(want.Tensors) {
		t.Fatalf("%d tensors, want %d", len(got.Tensors), len(want.Tensors))
	}
	// Data order as the reference writer: I64, F32, I32, then by name.
	var order []string
	for _, x := range got.Tensors {
		order = append(order, x.Name)
	}
	if want := []string{"steps", "empty", "w", "inputs"}; !reflect.DeepEqual(order, want) {
		t.Errorf("data order %v, want %v", order, want)
	}
	for _, w := range want.Tensors {
		g, ok := got.Get(w.Name)
		if !ok {
			t.Fatalf("missing %q", w.Name)
		}
		if g.DType != w.DType || !reflect.DeepEqual(g.Shape, w.Shape) || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("%q: got %s %v %x, want %s %v %x", w.Name, g.DType, g.Shape, g.Data, w.DType, w.Shape, w.Data)
		}
	}
	f, err := got.Tensors[2].Float32s()
	if err != nil || !reflect.DeepEqual(f, []float32{1, -2, 3.5, 0, 1e-30, -7}) {
		t.Errorf("Float32s = %v, %v", f, err)
	}
	i32, err := got.Tensors[3].Int32s()
	if err != nil || !reflect.DeepEqual(i32, []int32{0, 1, -1, 1 << 30}) {
		t.Errorf("Int32s = %v, %v", i32, err)
	}
	i64, err := got.Tensors[0].Int64s()
	if err != nil || !reflect.DeepEqual(i64, []int64{-5}) {
		t.Errorf("Int64s = %v, %v", i64, err)
	}
	if _, err := got.Tensors[0].Float32s(); err == nil {
		t.Error("Float32s of an I64 tensor: no error")
	}
}

// TestGoldenBytes pins the exact layout against a file written by hand from
// the format description (and matching what the reference writer produces:
// metadata first, compact JSON, space padding to 8 bytes).
func TestGoldenBytes(t *testing.T) {
	f := &File{
		Metadata: map[string]string{"k": "v"},
		Tensors:  []Tensor{FromFloat32("a", []int{2}, []float32{1, 2})},
	}
	b, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "small.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("encoded\n%q\nwant\n%q", b, want)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, sample()); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Tensors) != 4 {
		t.Errorf("%d tensors", len(got.Tensors))
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want only the file (temporary left behind?)", len(ents))
	}
	// A failed encode leaves the old file in place.
	bad := &File{Tensors: []Tensor{{Name: "x", DType: F32, Shape: []int{3}, Data: make([]byte, 4)}}}
	if err := WriteFile(path, bad); err == nil {
		t.Fatal("WriteFile of an inconsistent tensor: no error")
	}
	if _, err := ReadFile(path); err != nil {
		t.Errorf("file damaged by failed write: %v", err)
	}
}

func TestEncodeRejects(t *testing.T) {
	cases := []struct {
		name string
		f    *File
		want string
	}{
		{"duplicate", &File{Tensors: []Tensor{FromFloat32("a", []int{1}, []float32{1}), FromFloat32("a", []int{1}, []float32{1})}}, "duplicate"},
		{"reserved name", &File{Tensors: []Tensor{FromFloat32("__metadata__", []int{1}, []float32{1})}}, "invalid tensor name"},
		{"empty name", &File{Tensors: []Tensor{FromFloat32("", []int{1}, []float32{1})}}, "invalid tensor name"},
		{"bad length", &File{Tensors: []Tensor{{Name: "a", DType: F32, Shape: []int{2}, Data: make([]byte, 4)}}}, "needs 8 bytes"},
		{"bad dtype", &File{Tensors: []Tensor{{Name: "a", DType: "BF16", Shape: []int{1}, Data: make([]byte, 2)}}}, "unsupported dtype"},
		{"negative dim", &File{Tensors: []Tensor{{Name: "a", DType: F32, Shape: []int{-1}}}}, "negative dimension"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Encode(tc.f)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// raw builds a file from a header string and data bytes, padding nothing.
func raw(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func TestDecodeRejects(t *testing.T) {
	eight := make([]byte, 8)
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "too short"},
		{"header too long", raw("{}", nil)[:9], "exceeds"},
		{"huge header", func() []byte { b := raw("{}", nil); binary.LittleEndian.PutUint64(b, 1<<62); return b }(), "exceeds the limit"},
		{"not object", raw("[]", nil), "does not start"},
		{"bad json", raw(`{"a":`, nil), "header"},
		{"trailing", raw(`{}x`, nil), "unexpected bytes"},
		{"duplicate", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), "duplicate key"},
		{"dtype", raw(`{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}`, eight[:2]), "unsupported dtype"},
		{"no shape", raw(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, eight[:4]), "missing shape"},
		{"offsets arity", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, eight[:4]), "data_offsets must be"},
		{"gap", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), "gap or overlap"},
		{"overlap", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, eight), "gap or overlap"},
		{"end before begin", raw(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,-4]}}`, eight), "end before begin"},
		{"beyond data", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, eight[:4]), "beyond"},
		{"size mismatch", raw(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, eight), "needs 12 bytes"},
		{"uncovered data", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, eight), "cover 4 of the 8"},
		{"negative shape", raw(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, nil), "negative dimension"},
		{"overflow shape", raw(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,0]}}`, nil), "too large"},
		{"metadata not strings", raw(`{"__metadata__":{"a":1}}`, nil), "__metadata__"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func FuzzRead(f *testing.F) {
	b, _ := Encode(sample())
	f.Add(b)
	small, _ := os.ReadFile(filepath.Join("testdata", "small.safetensors"))
	f.Add(small)
	f.Add(raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Decode(b)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode and decode to the same tensors.
		b2, err := Encode(got)
		if err != nil {
			t.Fatalf("decoded file does not re-encode: %v", err)
		}
		again, err := Decode(b2)
		if err != nil {
			t.Fatalf("re-encoded file does not decode: %v", err)
		}
		if len(again.Tensors) != len(got.Tensors) {
			t.Fatalf("%d tensors after round trip, want %d", len(again.Tensors), len(got.Tensors))
		}
		for _, x := range got.Tensors {
			y, ok := again.Get(x.Name)
			if !ok || !bytes.Equal(x.Data, y.Data) || !reflect.DeepEqual(x.Shape, y.Shape) {
				t.Fatalf("tensor %q changed in the round trip", x.Name)
			}
		}
	})
}
