/**
 * ccTalk framing and event-counter arithmetic (domain/cctalk.ts) against the worked examples of
 * the ccTalk generic specification, and the ESC/POS status bytes and receipt document
 * (domain/escpos.ts, receiptLineDocument) without any device.
 */
import fc from 'fast-check';
import receiptline from 'receiptline';
import {
  Header,
  coinValueCode,
  decodeFrame,
  encodeFrame,
  eventsBetween,
  nextEventCounter,
  parseBillId,
  parseCoinId,
  parseEventBuffer,
  readNewEvents,
  uintBytes,
  uintLE,
} from '../../domain/cctalk';
import {
  encodeCounterReply,
  encodeOfflineCause,
  encodePaperStatusReply,
  encodeRollPaperStatus,
  isPaperStatusReply,
  isRealTimeStatus,
  parseCounterReply,
  parseOfflineCause,
  parsePaperStatusReply,
  parseRollPaperStatus,
} from '../../domain/escpos';
import { receiptLineDocument } from '../../terminal-worker/drivers/escpos-receipt-printer';
import { decodeEscPos } from '../../terminal-worker/simulators/receipt-emulator/escpos-interpreter';

describe('ccTalk frames', () => {
  test("the spec's example: host asks address 2 for its equipment category", () => {
    expect([...encodeFrame({ dest: 2, src: 1, header: Header.requestEquipmentCategoryId })]).toEqual([2, 0, 1, 245, 8]);
  });

  test("the spec's example reply: serial number 12,345,678", () => {
    const f = decodeFrame(Buffer.from([1, 3, 2, 0, 78, 97, 188, 143]));
    expect(f).toMatchObject({ dest: 1, src: 2, header: 0 });
    expect(uintLE(f.data, 0, 3)).toBe(12_345_678);
    expect(uintBytes(12_345_678, 3)).toEqual([78, 97, 188]);
  });

  test('a bad checksum or a wrong length is refused', () => {
    expect(() => decodeFrame(Buffer.from([1, 3, 2, 0, 78, 97, 188, 144]))).toThrow(/checksum/);
    expect(() => decodeFrame(Buffer.from([1, 4, 2, 0, 78, 97, 188, 143]))).toThrow(/length/);
    expect(() => decodeFrame(Buffer.from([1, 0, 2]))).toThrow(/at least 5/);
  });

  test('any frame round-trips', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 255 }), (dest, src, header, data) => {
        const f = decodeFrame(encodeFrame({ dest, src, header, data }));
        expect([f.dest, f.src, f.header, [...f.data]]).toEqual([dest, src, header, [...data]]);
      }),
    );
  });
});

describe('buffered events and the event counter', () => {
  test("the spec's table: new events between readings", () => {
    expect(eventsBetween(23, 23)).toBe(0);
    expect(eventsBetween(102, 104)).toBe(2);
    expect(eventsBetween(255, 1)).toBe(1);
    expect(eventsBetween(253, 3)).toBe(5);
    expect(eventsBetween(48, 54)).toBe(6);
    expect(nextEventCounter(255)).toBe(1);
    expect(nextEventCounter(0)).toBe(1);
  });

  const buffer = (counter: number, ...pairs: Array<[number, number]>) => parseEventBuffer([counter, ...pairs.flat(), ...Array(10 - pairs.length * 2).fill(0)]);

  test('new events come out oldest first; a sixth event is counted as lost', () => {
    const b = buffer(54, [6, 1], [5, 1], [4, 1], [3, 1], [2, 1]);
    expect(readNewEvents(52, b)).toEqual({ kind: 'events', events: [{ a: 5, b: 1 }, { a: 6, b: 1 }], lost: 0 });
    expect(readNewEvents(48, b)).toEqual({ kind: 'events', events: [2, 3, 4, 5, 6].map((a) => ({ a, b: 1 })), lost: 1 });
    expect(readNewEvents(54, b)).toEqual({ kind: 'none' });
  });

  test('a counter back at 0 is a reset; counting from a reset starts at 1', () => {
    expect(readNewEvents(67, buffer(0))).toEqual({ kind: 'reset', events: [] });
    expect(readNewEvents(0, buffer(0))).toEqual({ kind: 'none' });
    expect(readNewEvents(0, buffer(2, [3, 1], [1, 1]))).toEqual({ kind: 'events', events: [{ a: 1, b: 1 }, { a: 3, b: 1 }], lost: 0 });
    expect(readNewEvents(null, buffer(9, [1, 1]))).toEqual({ kind: 'none' }); // no baseline: history, not credits
  });

  test('whatever the polling, each event is read exactly once (wrap-around included)', () => {
    // A device producing events, read at random moments with at most 5 events in between.
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 255 }), fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 200 }), (start, gaps) => {
        let counter = start;
        let ring: number[] = [];
        let next = 1;
        let last = counter;
        const seen: number[] = [];
        for (const gap of gaps) {
          for (let k = 0; k < gap; k++) {
            ring = [next++, ...ring].slice(0, 5);
            counter = nextEventCounter(counter);
          }
          const r = readNewEvents(last, buffer(counter, ...ring.map((v) => [v % 256, 1] as [number, number])));
          if (r.kind === 'events') seen.push(...r.events.map((e) => e.a));
          last = counter;
        }
        expect(seen).toEqual(Array.from({ length: next - 1 }, (_, i) => (i + 1) % 256));
      }),
    );
  });
});

describe('coin and bill identifiers', () => {
  test('coin ids with multipliers', () => {
    expect(parseCoinId('JP100A')).toEqual({ country: 'JP', value: 100, issue: 'A' });
    expect(parseCoinId('JP010A')!.value).toBe(10);
    expect(parseCoinId('JP1K0A')!.value).toBe(1000);
    expect(parseCoinId('JP5K0A')!.value).toBe(5000);
    expect(parseCoinId('EU.50A')!.value).toBe(0.5);
    expect(parseCoinId('GB2.0A')!.value).toBe(2);
    expect(parseCoinId('......')).toBeNull();
    for (const v of [10, 50, 100, 500, 1000, 5000, 10000]) expect(parseCoinId(`JP${coinValueCode(v)}A`)!.value).toBe(v);
  });

  test('bill ids scaled by the country scaling factor', () => {
    expect(parseBillId('JP0001A', 1000)!.value).toBe(1000);
    expect(parseBillId('JP0010A', 1000)!.value).toBe(10000);
    expect(parseBillId('.......', 1000)).toBeNull();
  });
});

describe('ESC/POS status bytes', () => {
  test('real-time status, paper status and counter answers are told apart', () => {
    for (const cover of [false, true])
      for (const paper of [false, true]) {
        const b = encodeOfflineCause({ coverOpen: cover, paperEndStop: paper, error: false });
        expect(isRealTimeStatus(b)).toBe(true);
        expect(parseOfflineCause(b)).toEqual({ coverOpen: cover, paperEndStop: paper, error: false });
      }
    for (const nearEnd of [false, true])
      for (const paperEnd of [false, true]) {
        const rt = encodeRollPaperStatus({ nearEnd, paperEnd });
        expect(isRealTimeStatus(rt) && !isPaperStatusReply(rt)).toBe(true);
        expect(parseRollPaperStatus(rt)).toEqual({ nearEnd, paperEnd });
        const r = encodePaperStatusReply({ nearEnd, paperEnd });
        expect(isPaperStatusReply(r) && !isRealTimeStatus(r)).toBe(true);
        expect(parsePaperStatusReply(r)).toEqual({ nearEnd, paperEnd });
      }
    expect(isRealTimeStatus(0x5f) || isPaperStatusReply(0x5f)).toBe(false);
    expect(parseCounterReply(encodeCounterReply(12345))).toEqual({ value: 12345, length: 7 });
    expect(parseCounterReply(Buffer.from([0x5f, 0x31]))).toBeNull();
  });

  test('receipt lines survive receiptline and ESC/POS, special characters and Japanese included', () => {
    const lines = ['RECEIPT', '|pipes| {braces} -dash =eq _u_ "q" `b` ^c', 'ザ・ネオン・ハーバーズ 日本武道館', 'ｶﾀｶﾅ and 全角ＡＢＣ', 'Total ¥10,130', '-', '='];
    const bytes = Buffer.from(receiptline.transform(receiptLineDocument(lines), { cpl: 42, encoding: 'shiftjis', command: 'escpos' }), 'latin1');
    const { pieces } = decodeEscPos(bytes);
    expect(pieces).toHaveLength(1);
    expect(pieces[0]!.filter(Boolean)).toEqual(lines);
  });
});
