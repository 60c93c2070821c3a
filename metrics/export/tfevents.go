package export

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"strconv"
	"time"

	"github.com/tinyscale/tinyscale/store"
)

// FileVersion is the file_version of the first record of every event file,
// as TensorFlow's and TensorBoard's writers put it.
const FileVersion = "brain.Event:2"

// Writer is the source_metadata.writer recorded in the first event.
const Writer = "tinyscale"

// Scalar tags of the training steps. Evaluations are tagged <split>/loss,
// <split>/bpb and <split>/accuracy, where the split is "val", "final_val",
// "train_eval" (an evaluation on the training split) or a task name.
const (
	TagTrainLoss     = "train/loss"
	TagLR            = "lr"
	TagTrainGradNorm = "train/grad_norm"
	TagTrainStepMS   = "train/step_ms"
)

// EventFileName is the name of a run's event file:
// events.out.tfevents.<Unix seconds of its first record>.tinyscale
// (TensorBoard reads every file whose name contains "tfevents").
func EventFileName(rd RunData) string {
	return "events.out.tfevents." + strconv.FormatInt(firstTime(rd).Unix(), 10) + ".tinyscale"
}

// firstTime is the earliest stored timestamp of the run's steps and
// evaluations, or its creation time when it has none.
func firstTime(rd RunData) time.Time {
	var t time.Time
	for _, s := range rd.Steps {
		if t.IsZero() || s.Time.Before(t) {
			t = s.Time
		}
	}
	for _, e := range rd.Evals {
		if t.IsZero() || e.Time.Before(t) {
			t = e.Time
		}
	}
	if t.IsZero() {
		t = rd.Run.CreatedAt
	}
	return t
}

// TFEvents renders one run as a TensorBoard event file: a TFRecord stream
// whose first Event carries file_version FileVersion, followed by one Event
// per logged step (scalars train/loss, lr, train/grad_norm, train/step_ms)
// and one per evaluation (<split>/loss, <split>/bpb, <split>/accuracy), in
// step order, each with the stored timestamp as wall_time. NaN values are
// left out.
func TFEvents(rd RunData) ([]byte, error) {
	var out []byte
	first := event{wallTime: wallTime(firstTime(rd)), fileVersion: FileVersion, writer: Writer}
	out = appendRecord(out, first.marshal())
	i, j := 0, 0
	for i < len(rd.Steps) || j < len(rd.Evals) {
		// Merge by step; a step's training scalars come before its evaluations.
		if j >= len(rd.Evals) || (i < len(rd.Steps) && rd.Steps[i].Step <= rd.Evals[j].Step) {
			s := rd.Steps[i]
			i++
			ev := event{wallTime: wallTime(s.Time), step: s.Step}
			ev.add(TagTrainLoss, s.Loss)
			ev.add(TagLR, s.LR)
			ev.add(TagTrainGradNorm, s.GradNorm)
			ev.add(TagTrainStepMS, s.StepMS)
			if len(ev.values) > 0 {
				out = appendRecord(out, ev.marshal())
			}
			continue
		}
		e := rd.Evals[j]
		j++
		p := e.Split
		if e.Split == store.SplitTrain {
			p = "train_eval"
		}
		ev := event{wallTime: wallTime(e.Time), step: e.Step}
		ev.add(p+"/loss", e.Loss)
		ev.add(p+"/bpb", e.BPB)
		if e.Accuracy != nil {
			ev.add(p+"/accuracy", *e.Accuracy)
		}
		if len(ev.values) > 0 {
			out = appendRecord(out, ev.marshal())
		}
	}
	return out, nil
}

// wallTime is t as fractional Unix seconds (Event.wall_time).
func wallTime(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }

// scalar is one Summary.Value with a simple_value.
type scalar struct {
	tag   string
	value float32
}

// event is the part of tensorboard.Event (tensorboard/compat/proto/event.proto)
// that is written: either a file_version (with source_metadata) or a summary
// of scalars.
type event struct {
	wallTime    float64
	step        int64
	fileVersion string
	writer      string
	values      []scalar
}

// add appends a scalar unless v is NaN.
func (e *event) add(tag string, v float64) {
	if !math.IsNaN(v) {
		e.values = append(e.values, scalar{tag, float32(v)})
	}
}

// Field numbers and wire types of event.proto and summary.proto.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5

	eventWallTime       = 1  // double
	eventStep           = 2  // int64
	eventFileVersion    = 3  // string (oneof what)
	eventSummary        = 5  // Summary (oneof what)
	eventSourceMetadata = 10 // SourceMetadata
	sourceWriter        = 1  // string
	summaryValue        = 1  // repeated Summary.Value
	valueTag            = 1  // string
	valueSimpleValue    = 2  // float (oneof value)
)

// marshal encodes e in the protobuf wire format, fields in number order and
// proto3 defaults (zero) left out, as protobuf's own serialisers do.
func (e event) marshal() []byte {
	var b []byte
	if e.wallTime != 0 {
		b = appendTag(b, eventWallTime, wireFixed64)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(e.wallTime))
	}
	if e.step != 0 {
		b = appendTag(b, eventStep, wireVarint)
		b = binary.AppendUvarint(b, uint64(e.step))
	}
	if e.fileVersion != "" {
		b = appendBytes(b, eventFileVersion, []byte(e.fileVersion))
	}
	if len(e.values) > 0 {
		var sum []byte
		for _, v := range e.values {
			var val []byte
			val = appendBytes(val, valueTag, []byte(v.tag))
			val = appendTag(val, valueSimpleValue, wireFixed32)
			val = binary.LittleEndian.AppendUint32(val, math.Float32bits(v.value))
			sum = appendBytes(sum, summaryValue, val)
		}
		b = appendBytes(b, eventSummary, sum)
	}
	if e.writer != "" {
		b = appendBytes(b, eventSourceMetadata, appendBytes(nil, sourceWriter, []byte(e.writer)))
	}
	return b
}

func appendTag(b []byte, field, wire int) []byte {
	return binary.AppendUvarint(b, uint64(field)<<3|uint64(wire))
}

func appendBytes(b []byte, field int, data []byte) []byte {
	b = appendTag(b, field, wireBytes)
	b = binary.AppendUvarint(b, uint64(len(data)))
	return append(b, data...)
}

// castagnoli is the CRC-32C table of TFRecord checksums.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC is TFRecord's masked CRC-32C of b: rotate right by 15 bits and
// add 0xa282ead8.
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return (c>>15 | c<<17) + 0xa282ead8
}

// appendRecord frames data as one TFRecord: uint64 length, masked CRC-32C of
// the length's 8 bytes, the data, masked CRC-32C of the data (all little
// endian).
func appendRecord(b, data []byte) []byte {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(data)))
	b = append(b, n[:]...)
	b = binary.LittleEndian.AppendUint32(b, maskedCRC(n[:]))
	b = append(b, data...)
	return binary.LittleEndian.AppendUint32(b, maskedCRC(data))
}
