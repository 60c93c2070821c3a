package runner

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// ckptMagic opens every checkpoint file; the 8 bytes double as a version.
const ckptMagic = "TSCKPT01"

// ckptHeaderLen is magic (8) + payload length (8) + sha256 of the payload (32).
const ckptHeaderLen = 8 + 8 + 32

// ErrCorruptCheckpoint is matched (errors.Is) by every checkpoint that fails
// its magic, length or checksum check.
var ErrCorruptCheckpoint = errors.New("corrupt checkpoint")

// tensorMeta locates one tensor in the payload.
type tensorMeta struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	Len   int    `json:"len"`
}

// ckptMeta is the JSON part of a checkpoint.
type ckptMeta struct {
	Run        string          `json:"run"`
	Step       int64           `json:"step"`
	ConfigHash string          `json:"config_hash"`
	Config     json.RawMessage `json:"config"`
	Tokenizer  json.RawMessage `json:"tokenizer"`
	RNG        []byte          `json:"rng"`
	Cursor     int64           `json:"cursor"`
	OptSteps   int64           `json:"opt_steps"`
	ElapsedS   float64         `json:"elapsed_s"`
	EstTotal   int64           `json:"est_total,omitempty"`
	// EvalPending: the step's periodic evaluation was stopped (Ctrl-C)
	// before it finished; resuming does it first.
	EvalPending bool         `json:"eval_pending,omitempty"`
	Tensors     []tensorMeta `json:"tensors"`
}

// namedData is one tensor to write or read.
type namedData struct {
	Name  string
	Shape []int
	Data  []float32
}

// ckptContent is everything a checkpoint holds.
type ckptContent struct {
	Meta    ckptMeta
	Tensors []namedData
}

// tensor returns the tensor called name, or nil.
func (c *ckptContent) tensor(name string) *namedData {
	for i := range c.Tensors {
		if c.Tensors[i].Name == name {
			return &c.Tensors[i]
		}
	}
	return nil
}

// writePayload streams c's payload (uint32 meta length, meta JSON,
// little-endian float32 tensor data) to w and returns its length.
func writePayload(w io.Writer, c *ckptContent) (int64, error) {
	meta := c.Meta
	meta.Tensors = meta.Tensors[:0:0]
	for _, t := range c.Tensors {
		meta.Tensors = append(meta.Tensors, tensorMeta{Name: t.Name, Shape: t.Shape, Len: len(t.Data)})
	}
	mj, err := json.Marshal(meta)
	if err != nil {
		return 0, fmt.Errorf("encode checkpoint metadata: %w", err)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var n int64
	var l [4]byte
	binary.LittleEndian.PutUint32(l[:], uint32(len(mj)))
	bw.Write(l[:])
	bw.Write(mj)
	n += 4 + int64(len(mj))
	var chunk [4096]byte
	for _, t := range c.Tensors {
		d := t.Data
		for len(d) > 0 {
			k := min(len(d), len(chunk)/4)
			for i, v := range d[:k] {
				binary.LittleEndian.PutUint32(chunk[4*i:], math.Float32bits(v))
			}
			if _, err := bw.Write(chunk[:4*k]); err != nil {
				return n, err
			}
			n += int64(4 * k)
			d = d[k:]
		}
	}
	if err := bw.Flush(); err != nil {
		return n, err
	}
	return n, nil
}

// header builds the 48-byte header of a payload of length n with hash sum.
func header(n int64, sum []byte) []byte {
	h := make([]byte, ckptHeaderLen)
	copy(h, ckptMagic)
	binary.LittleEndian.PutUint64(h[8:], uint64(n))
	copy(h[16:48], sum)
	return h
}

// encodeCheckpoint serialises c in memory: header (magic, payload length,
// sha256 of the payload) + payload.
func encodeCheckpoint(c *ckptContent) ([]byte, error) {
	var p bytes.Buffer
	n, err := writePayload(&p, c)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(p.Bytes())
	return append(header(n, sum[:]), p.Bytes()...), nil
}

// writeCheckpoint writes c to path durably without holding it in memory: a
// temp file in the same directory (placeholder header, streamed payload,
// then the real header), fsync, a read-back that verifies the checksum and
// hashes the whole file, rename over path, fsync of the directory. It
// returns the hex sha256 of the file and its size. On any error the temp
// file is removed and path is untouched.
func writeCheckpoint(path string, c *ckptContent) (sha string, size int64, err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", 0, fmt.Errorf("create checkpoint directory: %w", err)
	}
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return "", 0, fmt.Errorf("create temp checkpoint: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(make([]byte, ckptHeaderLen)); err != nil {
		return "", 0, fmt.Errorf("write %s: %w", tmp, err)
	}
	ph := sha256.New()
	n, err := writePayload(io.MultiWriter(f, ph), c)
	if err != nil {
		return "", 0, fmt.Errorf("write %s: %w", tmp, err)
	}
	psum := ph.Sum(nil)
	if _, err = f.WriteAt(header(n, psum), 0); err != nil {
		return "", 0, fmt.Errorf("write header of %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return "", 0, fmt.Errorf("fsync %s: %w", tmp, err)
	}
	// Read back: what is on disk must carry the payload hash we computed.
	if _, err = f.Seek(0, io.SeekStart); err != nil {
		return "", 0, fmt.Errorf("read back %s: %w", tmp, err)
	}
	fh, rh := sha256.New(), sha256.New()
	hdr := make([]byte, ckptHeaderLen)
	if _, err = io.ReadFull(f, hdr); err != nil {
		return "", 0, fmt.Errorf("read back %s: %w", tmp, err)
	}
	fh.Write(hdr)
	got, err := io.Copy(io.MultiWriter(fh, rh), f)
	if err != nil {
		return "", 0, fmt.Errorf("read back %s: %w", tmp, err)
	}
	if got != n || !bytes.Equal(rh.Sum(nil), psum) || !bytes.Equal(hdr, header(n, psum)) {
		err = fmt.Errorf("%w: %s reads back differently from what was written", ErrCorruptCheckpoint, tmp)
		return "", 0, err
	}
	if err = f.Close(); err != nil {
		return "", 0, fmt.Errorf("close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return "", 0, fmt.Errorf("rename checkpoint into place: %w", err)
	}
	if err = syncDir(dir); err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(fh.Sum(nil)), ckptHeaderLen + n, nil
}

// syncDir fsyncs a directory so that a rename in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open checkpoint directory for fsync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync checkpoint directory: %w", err)
	}
	return nil
}

// decodeCheckpoint parses and verifies a checkpoint file's bytes.
func decodeCheckpoint(b []byte) (*ckptContent, error) {
	if len(b) < ckptHeaderLen || string(b[:8]) != ckptMagic {
		return nil, fmt.Errorf("%w: bad header", ErrCorruptCheckpoint)
	}
	n := binary.LittleEndian.Uint64(b[8:16])
	if n != uint64(len(b)-ckptHeaderLen) {
		return nil, fmt.Errorf("%w: payload is %d bytes, header says %d (truncated?)", ErrCorruptCheckpoint, len(b)-ckptHeaderLen, n)
	}
	p := b[ckptHeaderLen:]
	sum := sha256.Sum256(p)
	if !bytes.Equal(sum[:], b[16:48]) {
		return nil, fmt.Errorf("%w: sha256 mismatch", ErrCorruptCheckpoint)
	}
	if len(p) < 4 {
		return nil, fmt.Errorf("%w: short payload", ErrCorruptCheckpoint)
	}
	ml := int(binary.LittleEndian.Uint32(p))
	if 4+ml > len(p) {
		return nil, fmt.Errorf("%w: metadata length %d out of range", ErrCorruptCheckpoint, ml)
	}
	c := &ckptContent{}
	if err := json.Unmarshal(p[4:4+ml], &c.Meta); err != nil {
		return nil, fmt.Errorf("%w: metadata: %v", ErrCorruptCheckpoint, err)
	}
	off := 4 + ml
	for _, tm := range c.Meta.Tensors {
		if tm.Len < 0 || off+4*tm.Len > len(p) {
			return nil, fmt.Errorf("%w: tensor %s overruns the file", ErrCorruptCheckpoint, tm.Name)
		}
		d := make([]float32, tm.Len)
		for i := range d {
			d[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[off:]))
			off += 4
		}
		c.Tensors = append(c.Tensors, namedData{Name: tm.Name, Shape: tm.Shape, Data: d})
	}
	if off != len(p) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorruptCheckpoint, len(p)-off)
	}
	return c, nil
}

// readCheckpoint loads and verifies the checkpoint at path.
func readCheckpoint(path string) (*ckptContent, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	c, err := decodeCheckpoint(b)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return c, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._=-]+`)

// SanitizeRunName maps a run name to a single safe path component. Names
// that need changing get a short hash of the original, so that distinct runs
// never share a directory: "paper-pair/silia/seed=1" →
// "paper-pair_silia_seed=1-<8 hex>"; "plain-name" stays as it is.
func SanitizeRunName(name string) string {
	s := strings.Trim(unsafeName.ReplaceAllString(name, "_"), "._")
	if s == name && s != "" {
		return s
	}
	if s == "" {
		s = "run"
	}
	sum := sha256.Sum256([]byte(name))
	return s + "-" + fmt.Sprintf("%x", sum[:4])
}

// CheckpointDir is where a run's checkpoints live: <db>.ckpt/<sanitised name>.
func CheckpointDir(dbPath, run string) string {
	return filepath.Join(dbPath+".ckpt", SanitizeRunName(run))
}

// checkpointFile names the checkpoint of a step.
func checkpointFile(dir string, step int64) string {
	return filepath.Join(dir, fmt.Sprintf("step-%09d.ckpt", step))
}

// removeTempFiles deletes temp files left in dir by a write that was
// interrupted (they were never renamed, so never taken as checkpoints).
func removeTempFiles(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
