package runner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testContent() *ckptContent {
	return &ckptContent{
		Meta: ckptMeta{Run: "a/b", Step: 7, ConfigHash: "h", Config: []byte(`{"name":"a/b"}`), Tokenizer: []byte(`{}`), RNG: []byte{1, 2, 3}, Cursor: 9},
		Tensors: []namedData{
			{Name: "param/w", Shape: []int{2, 2}, Data: []float32{1, -2, 3.5, 0}},
			{Name: "adam.m/w", Shape: []int{2, 2}, Data: []float32{0.25, 0, 0, 1e-30}},
		},
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	b, err := encodeCheckpoint(testContent())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "x", "step-000000007.ckpt")
	sha, size, err := writeCheckpoint(path, testContent())
	if err != nil {
		t.Fatal(err)
	}
	onDisk, _ := os.ReadFile(path)
	sum := sha256.Sum256(b)
	if !bytes.Equal(onDisk, b) || size != int64(len(b)) || sha != hex.EncodeToString(sum[:]) {
		t.Fatalf("streamed file differs from the in-memory encoding (size %d vs %d)", size, len(b))
	}
	c, err := readCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	want := testContent()
	if c.Meta.Step != 7 || c.Meta.Cursor != 9 || string(c.Meta.RNG) != "\x01\x02\x03" || len(c.Tensors) != 2 {
		t.Fatalf("meta %+v", c.Meta)
	}
	for i, tn := range want.Tensors {
		if c.Tensors[i].Name != tn.Name || !equalF32(c.Tensors[i].Data, tn.Data) {
			t.Errorf("tensor %d: %+v", i, c.Tensors[i])
		}
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("temp files left: %v", ents)
	}
}

func TestCheckpointCorruptionDetected(t *testing.T) {
	good, _ := encodeCheckpoint(testContent())
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"bad magic", mut(func(b []byte) []byte { b[0] = 'X'; return b })},
		{"truncated", good[:len(good)-5]},
		{"appended", append(append([]byte(nil), good...), 0)},
		{"flipped payload bit", mut(func(b []byte) []byte { b[len(b)-1] ^= 1; return b })},
		{"flipped checksum", mut(func(b []byte) []byte { b[20] ^= 1; return b })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeCheckpoint(tc.b); !errors.Is(err, ErrCorruptCheckpoint) {
				t.Errorf("err = %v, want ErrCorruptCheckpoint", err)
			}
		})
	}
}

func TestSanitizeRunName(t *testing.T) {
	tests := []struct{ in, prefix string }{
		{"paper-pair/silia/seed=1", "paper-pair_silia_seed=1-"},
		{"../../etc", "etc-"},
		{"a b/c,d=1", "a_b_c_d=1-"},
		{"", "run-"},
		{"plain-name_1", "plain-name_1"},
	}
	seen := map[string]string{}
	for _, tc := range tests {
		got := SanitizeRunName(tc.in)
		if !strings.HasPrefix(got, tc.prefix) || strings.ContainsAny(got, "/\\ ") {
			t.Errorf("SanitizeRunName(%q) = %q, want prefix %q", tc.in, got, tc.prefix)
		}
		seen[got] = tc.in
	}
	if a, b := SanitizeRunName("a/b"), SanitizeRunName("a_b"); a == b {
		t.Errorf("a/b and a_b share directory %q", a)
	}
}
