// check_tfevents.mjs reads every TensorBoard event file under a folder with
// code independent of tinyscale's writer: TFRecord framing with both masked
// CRC-32C checks, and each Event decoded by protobufjs from the .proto fields
// below (numbered as tensorboard/compat/proto/event.proto and summary.proto).
// It prints, per file, the first record and each tag's point count, first and
// last (step, value); it throws on any bad checksum or undecodable record.
//
//   tinyscale export-metrics --format tfevents --out /tmp/tb
//   npm install --no-save protobufjs   # once, in the repository root
//   node tools/check_tfevents.mjs /tmp/tb
import fs from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';

// The fields tinyscale writes, numbered as in tensorboard/compat/proto/event.proto and summary.proto.
const PROTO = `// Subset of tensorboard/compat/proto/event.proto and summary.proto (field numbers as upstream).
syntax = "proto3";
package tensorboard;
message SourceMetadata { string writer = 1; }
message Event {
  double wall_time = 1;
  int64 step = 2;
  oneof what {
    string file_version = 3;
    bytes graph_def = 4;
    Summary summary = 5;
    bytes meta_graph_def = 9;
  }
  SourceMetadata source_metadata = 10;
}
message Summary {
  message Value {
    string node_name = 7;
    string tag = 1;
    oneof value {
      float simple_value = 2;
      bytes obsolete_old_style_histogram = 3;
    }
  }
  repeated Value value = 1;
}
`;
const T = new Uint32Array(256);
for (let i = 0; i < 256; i++) { let c = i; for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1; T[i] = c >>> 0; }
const crc32c = b => { let c = 0xffffffff; for (const x of b) c = T[(c ^ x) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
// TFRecord masks a CRC: rotate right by 15 bits, add 0xa282ead8.
const mask = c => ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
const root = protobuf.parse(PROTO).root;
const Event = root.lookupType('tensorboard.Event');
function walk(d) { return fs.readdirSync(d, {withFileTypes: true}).flatMap(e => e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]); }
for (const f of walk(process.argv[2]).filter(f => f.includes('tfevents'))) {
  const b = fs.readFileSync(f); let off = 0, n = 0; const tags = {}; let first;
  while (off < b.length) {
    const len = Number(b.readBigUInt64LE(off));
    if (b.readUInt32LE(off + 8) !== mask(crc32c(b.subarray(off, off + 8)))) throw new Error(f + ': bad length crc at ' + off);
    const data = b.subarray(off + 12, off + 12 + len);
    if (b.readUInt32LE(off + 12 + len) !== mask(crc32c(data))) throw new Error(f + ': bad data crc at ' + off);
    off += 16 + len;
    const ev = Event.toObject(Event.decode(data), {longs: Number});
    if (n === 0) first = ev;
    for (const v of ev.summary?.value ?? []) { (tags[v.tag] ??= []).push([ev.step ?? 0, v.simpleValue]); }
    n++;
  }
  console.log(path.relative(process.argv[2], f), 'records', n, 'first', JSON.stringify(first));
  for (const [t, pts] of Object.entries(tags)) console.log('  ', t, pts.length, 'points; first', JSON.stringify(pts[0]), 'last', JSON.stringify(pts.at(-1)));
}
