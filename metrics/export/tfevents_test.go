package export

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readRecords splits a TFRecord stream and checks both masked CRC-32Cs of
// every record (written independently of appendRecord, from the format).
func readRecords(b []byte) ([][]byte, error) {
	tab := crc32.MakeTable(crc32.Castagnoli)
	mask := func(c uint32) uint32 { return ((c >> 15) | (c << 17)) + 0xa282ead8 }
	var recs [][]byte
	for off := 0; off < len(b); {
		if len(b)-off < 12 {
			return nil, fmt.Errorf("record at %d: truncated header", off)
		}
		n := binary.LittleEndian.Uint64(b[off:])
		if got, want := binary.LittleEndian.Uint32(b[off+8:]), mask(crc32.Checksum(b[off:off+8], tab)); got != want {
			return nil, fmt.Errorf("record at %d: length crc %08x, want %08x", off, got, want)
		}
		off += 12
		if uint64(len(b)-off) < n+4 {
			return nil, fmt.Errorf("record at %d: truncated data", off)
		}
		data := b[off : off+int(n)]
		off += int(n)
		if got, want := binary.LittleEndian.Uint32(b[off:]), mask(crc32.Checksum(data, tab)); got != want {
			return nil, fmt.Errorf("record at %d: data crc %08x, want %08x", off, got, want)
		}
		off += 4
		recs = append(recs, data)
	}
	return recs, nil
}

// field is one decoded protobuf field.
type field struct {
	num  int
	wire int
	u    uint64 // varint, fixed32, fixed64
	b    []byte // length-delimited
}

// parseProto decodes one message's fields (a generic wire-format reader).
func parseProto(b []byte) ([]field, error) {
	var fs []field
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("bad key varint")
		}
		b = b[n:]
		f := field{num: int(key >> 3), wire: int(key & 7)}
		switch f.wire {
		case 0:
			f.u, n = binary.Uvarint(b)
			if n <= 0 {
				return nil, errors.New("bad varint")
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return nil, errors.New("short fixed64")
			}
			f.u, b = binary.LittleEndian.Uint64(b), b[8:]
		case 5:
			if len(b) < 4 {
				return nil, errors.New("short fixed32")
			}
			f.u, b = uint64(binary.LittleEndian.Uint32(b)), b[4:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return nil, errors.New("bad length")
			}
			f.b, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return nil, fmt.Errorf("unexpected wire type %d", f.wire)
		}
		fs = append(fs, f)
	}
	return fs, nil
}

// decodedEvent is an Event as TensorBoard reads it.
type decodedEvent struct {
	wallTime    float64
	step        int64
	fileVersion string
	writer      string
	scalars     map[string]float32
}

// decodeEvent reads the Event fields of event.proto/summary.proto.
func decodeEvent(b []byte) (decodedEvent, error) {
	var ev decodedEvent
	fs, err := parseProto(b)
	if err != nil {
		return ev, err
	}
	for _, f := range fs {
		switch {
		case f.num == 1 && f.wire == 1:
			ev.wallTime = math.Float64frombits(f.u)
		case f.num == 2 && f.wire == 0:
			ev.step = int64(f.u)
		case f.num == 3 && f.wire == 2:
			ev.fileVersion = string(f.b)
		case f.num == 10 && f.wire == 2:
			sm, err := parseProto(f.b)
			if err != nil || len(sm) != 1 || sm[0].num != 1 {
				return ev, fmt.Errorf("bad source_metadata: %v", err)
			}
			ev.writer = string(sm[0].b)
		case f.num == 5 && f.wire == 2:
			vals, err := parseProto(f.b)
			if err != nil {
				return ev, err
			}
			ev.scalars = map[string]float32{}
			for _, v := range vals {
				if v.num != 1 || v.wire != 2 {
					return ev, fmt.Errorf("summary field %d/%d, want value 1/2", v.num, v.wire)
				}
				vf, err := parseProto(v.b)
				if err != nil {
					return ev, err
				}
				var tag string
				var val *float32
				for _, x := range vf {
					switch {
					case x.num == 1 && x.wire == 2:
						tag = string(x.b)
					case x.num == 2 && x.wire == 5:
						fv := math.Float32frombits(uint32(x.u))
						val = &fv
					default:
						return ev, fmt.Errorf("value field %d/%d", x.num, x.wire)
					}
				}
				if tag == "" || val == nil {
					return ev, errors.New("value without tag or simple_value")
				}
				ev.scalars[tag] = *val
			}
		default:
			return ev, fmt.Errorf("unexpected event field %d/%d", f.num, f.wire)
		}
	}
	return ev, nil
}

func TestMaskedCRCKnownValue(t *testing.T) {
	// CRC-32C("123456789") is 0xe3069283 (RFC 3720's check value).
	c := crc32.Checksum([]byte("123456789"), castagnoli)
	if c != 0xe3069283 {
		t.Fatalf("crc32c = %08x", c)
	}
	if got, want := maskedCRC([]byte("123456789")), ((c>>15)|(c<<17))+0xa282ead8; got != want {
		t.Fatalf("masked = %08x, want %08x", got, want)
	}
}

func TestReadRecordsDetectsCorruption(t *testing.T) {
	b := appendRecord(appendRecord(nil, []byte("hello")), []byte("world"))
	if recs, err := readRecords(b); err != nil || len(recs) != 2 || string(recs[1]) != "world" {
		t.Fatalf("recs %q, err %v", recs, err)
	}
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 0x40
		if _, err := readRecords(c); err == nil {
			t.Errorf("flipping byte %d went unnoticed", i)
		}
	}
}

// TestExportTFEvents exports the fixture and reads every event file back:
// framing and CRCs, the file_version record first, every stored value under
// its tag at its step with its stored wall time.
func TestExportTFEvents(t *testing.T) {
	db := fixtureDB(t)
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "tb")
	res, err := Export(ctx, db, Options{Format: FormatTFEvents, Out: out, Run: "exp"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Runs != 2 || len(res.Files) != 3 {
		t.Fatalf("result %+v", res)
	}
	for _, name := range []string{"exp/gpt2/seed=1", "exp/silia/seed=1"} {
		t.Run(name, func(t *testing.T) {
			matches, _ := filepath.Glob(filepath.Join(out, filepath.FromSlash(name), "events.out.tfevents.*.tinyscale"))
			if len(matches) != 1 {
				t.Fatalf("event files %q, want one", matches)
			}
			b, err := os.ReadFile(matches[0])
			if err != nil {
				t.Fatal(err)
			}
			recs, err := readRecords(b)
			if err != nil {
				t.Fatal(err)
			}
			var evs []decodedEvent
			for i, r := range recs {
				ev, err := decodeEvent(r)
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				evs = append(evs, ev)
			}
			if evs[0].fileVersion != "brain.Event:2" || evs[0].writer != "tinyscale" || evs[0].scalars != nil {
				t.Fatalf("first event %+v, want file_version brain.Event:2", evs[0])
			}
			steps, _ := db.Steps(ctx, name)
			evals, _ := db.Evals(ctx, name)
			if !strings.HasSuffix(matches[0], fmt.Sprintf(".%d.tinyscale", firstTime(RunData{Steps: steps, Evals: evals}).Unix())) {
				t.Errorf("file name %s", matches[0])
			}
			// Index every decoded scalar by (step, tag) with its wall time.
			type key struct {
				step int64
				tag  string
			}
			type point struct {
				v    float32
				wall float64
			}
			got := map[key]point{}
			lastStep := int64(-1)
			for _, ev := range evs[1:] {
				if ev.fileVersion != "" || len(ev.scalars) == 0 {
					t.Fatalf("event %+v: want scalars only", ev)
				}
				if ev.step < lastStep {
					t.Errorf("step %d after %d: events out of step order", ev.step, lastStep)
				}
				lastStep = ev.step
				for tag, v := range ev.scalars {
					k := key{ev.step, tag}
					if _, dup := got[k]; dup {
						t.Errorf("tag %s twice at step %d", tag, ev.step)
					}
					got[k] = point{v, ev.wallTime}
				}
			}
			want := map[key]point{}
			put := func(step int64, tag string, v float64, wall float64) {
				if !math.IsNaN(v) {
					want[key{step, tag}] = point{float32(v), wall}
				}
			}
			for _, s := range steps {
				w := float64(s.Time.UnixMicro()) / 1e6
				put(s.Step, "train/loss", s.Loss, w)
				put(s.Step, "lr", s.LR, w)
				put(s.Step, "train/grad_norm", s.GradNorm, w)
				put(s.Step, "train/step_ms", s.StepMS, w)
			}
			for _, e := range evals {
				w := float64(e.Time.UnixMicro()) / 1e6
				p := map[string]string{"train": "train_eval"}[e.Split]
				if p == "" {
					p = e.Split
				}
				put(e.Step, p+"/loss", e.Loss, w)
				put(e.Step, p+"/bpb", e.BPB, w)
				if e.Accuracy != nil {
					put(e.Step, p+"/accuracy", *e.Accuracy, w)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d scalars decoded, want %d", len(got), len(want))
			}
			for k, w := range want {
				g, ok := got[k]
				if !ok {
					t.Errorf("missing %s at step %d", k.tag, k.step)
					continue
				}
				if g.v != w.v && !(math.IsInf(float64(g.v), 1) && math.IsInf(float64(w.v), 1)) {
					t.Errorf("%s at step %d = %v, want %v", k.tag, k.step, g.v, w.v)
				}
				if g.wall != w.wall {
					t.Errorf("%s at step %d: wall_time %f, want %f", k.tag, k.step, g.wall, w.wall)
				}
			}
			if name == "exp/gpt2/seed=1" {
				for _, k := range []key{{0, "val/loss"}, {2, "train_eval/loss"}, {2, "val/bpb"}, {4, "final_val/loss"}, {4, "copy-task/accuracy"}} {
					if _, ok := got[k]; !ok {
						t.Errorf("no %s at step %d", k.tag, k.step)
					}
				}
			}
		})
	}
}

// TestExportDeterministic exports twice and compares every byte.
func TestExportDeterministic(t *testing.T) {
	db := fixtureDB(t)
	for _, format := range Formats() {
		var outs [2]map[string]string
		for i := range outs {
			dir := filepath.Join(t.TempDir(), "o")
			res, err := Export(context.Background(), db, Options{Format: format, Out: dir})
			if err != nil {
				t.Fatal(err)
			}
			outs[i] = map[string]string{}
			for _, f := range res.Files {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				outs[i][f] = string(b)
			}
		}
		if fmt.Sprint(outs[0]) != fmt.Sprint(outs[1]) {
			t.Errorf("%s: two exports differ", format)
		}
	}
}
