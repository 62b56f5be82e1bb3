/** 2-byte length framing: messages split at every byte, fed byte by byte, and coalesced. */
import { FrameDecoder, frame } from '../../lib/iso8583-framing';

const a = Buffer.from('0800 first message');
const b = Buffer.from('0810 second, a little longer message');
const c = Buffer.alloc(300, 7); // length > 255 exercises the high byte
const stream = Buffer.concat([frame(a), frame(b), frame(c)]);
const expected = [a, b, c].map((m) => m.toString('hex')).join('|');
const joined = (out: Buffer[]) => out.map((m) => m.toString('hex')).join('|');

test('frame writes a big-endian 2-byte length', () => {
  expect(frame(c).subarray(0, 2).toString('hex')).toBe('012c');
  expect(frame(Buffer.alloc(0)).toString('hex')).toBe('0000');
  expect(() => frame(Buffer.alloc(70000))).toThrow(/exceeds the 2-byte length frame/);
});

test('a stream split into two chunks at every byte gives the same three messages', () => {
  for (let i = 0; i <= stream.length; i++) {
    const d = new FrameDecoder();
    const out = [...d.push(stream.subarray(0, i)), ...d.push(stream.subarray(i))];
    if (joined(out) !== expected || d.bufferedBytes !== 0) throw new Error(`split at ${i} gave ${out.length} messages`);
  }
});

test('three-way splits across the first two frames', () => {
  for (let i = 0; i < 60; i++) {
    for (let j = i; j < 60; j++) {
      const d = new FrameDecoder();
      const out = [stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)].flatMap((chunk) => d.push(chunk));
      if (joined(out) !== expected) throw new Error(`split at ${i} and ${j} gave ${out.length} messages`);
    }
  }
});

test('byte by byte', () => {
  const d = new FrameDecoder();
  const out: Buffer[] = [];
  for (const byte of stream) out.push(...d.push(Buffer.from([byte])));
  expect(out).toEqual([a, b, c]);
});

test('coalesced: all messages in one chunk, plus the start of the next', () => {
  const d = new FrameDecoder();
  expect(d.push(Buffer.concat([stream, frame(a).subarray(0, 5)]))).toEqual([a, b, c]);
  expect(d.bufferedBytes).toBe(5);
  expect(d.push(frame(a).subarray(5))).toEqual([a]);
});

test('an empty message is a message', () => {
  expect(new FrameDecoder().push(Buffer.from([0, 0, 0, 0]))).toEqual([Buffer.alloc(0), Buffer.alloc(0)]);
});
