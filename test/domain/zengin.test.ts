/**
 * The Zengin 総合振込 file: fixed 120-byte Shift_JIS records, exact field positions, the trailer's
 * totals, round trips, kana conversion and every validation error.
 */
import fc from 'fast-check';
import iconv from 'iconv-lite';
import { decodeZenginTransfer, encodeZenginTransfer, toHalfWidthKana, ZenginError, ZenginHeader, ZenginRecord } from '../../domain/zengin';

const header: ZenginHeader = {
  requesterCode: '1234567890',
  requesterName: 'ｶ)ｱｲｼ-ｶ-ﾄﾞ',
  transferDate: '0425',
  bankCode: '0001',
  bankName: 'ﾐｽﾞﾎ',
  branchCode: '001',
  branchName: 'ﾄｳｷﾖｳ',
  accountType: '1',
  accountNumber: '1234567',
};

const rec = (over: Partial<ZenginRecord> = {}): ZenginRecord => ({
  bankCode: '0005',
  bankName: 'ﾐﾂﾋﾞｼﾕ-ｴﾌｼﾞｴｲ',
  branchCode: '123',
  branchName: 'ｼﾝｼﾞﾕｸ',
  accountType: '2',
  accountNumber: '7654321',
  payeeName: 'ﾔﾏﾀﾞ ﾀﾛｳ',
  amountMinor: 12000,
  ...over,
});

const records = [rec({ customerCode: '0000000042' }), rec({ bankCode: '0009', payeeName: 'ｶ)ｺﾝｻ-ﾄ ﾌﾟﾛﾓ-ｼﾖﾝ', amountMinor: 9_999_999_999, accountType: '4' }), rec({ amountMinor: 1 })];

function lines(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < buf.length; at += 122) {
    expect(buf.subarray(at + 120, at + 122).toString('latin1')).toBe('\r\n');
    out.push(buf.subarray(at, at + 120));
  }
  return out;
}

const text = (b: Buffer, from: number, to: number) => iconv.decode(b.subarray(from, to), 'Shift_JIS');

function expectZengin(fn: () => unknown, ...parts: string[]): void {
  let error: unknown;
  try {
    fn();
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ZenginError);
  for (const p of parts) expect((error as Error).message).toContain(p);
}

describe('encodeZenginTransfer', () => {
  const buf = encodeZenginTransfer(header, records);
  const recs = lines(buf);

  test('header, data…, trailer, end: each exactly 120 bytes, CRLF after each', () => {
    expect(buf.length).toBe((records.length + 3) * 122);
    expect(recs).toHaveLength(records.length + 3);
    for (const r of recs) expect(r.length).toBe(120);
    expect(recs.map((r) => text(r, 0, 1)).join('')).toBe('122289');
  });

  test('header fields sit at their byte positions', () => {
    const h = recs[0];
    expect(text(h, 0, 4)).toBe('1210'); // data kind 1, 種別 21, コード区分 0
    expect(text(h, 4, 14)).toBe('1234567890');
    expect(text(h, 14, 54)).toBe('ｶ)ｱｲｼ-ｶ-ﾄﾞ'.padEnd(40));
    expect(text(h, 54, 58)).toBe('0425');
    expect(text(h, 58, 62)).toBe('0001');
    expect(text(h, 62, 77)).toBe('ﾐｽﾞﾎ'.padEnd(15));
    expect(text(h, 77, 80)).toBe('001');
    expect(text(h, 80, 95)).toBe('ﾄｳｷﾖｳ'.padEnd(15));
    expect(text(h, 95, 103)).toBe('11234567');
    expect(text(h, 103, 120)).toBe(' '.repeat(17));
  });

  test('data record fields sit at their byte positions', () => {
    const d = recs[1];
    expect(text(d, 0, 5)).toBe('20005');
    expect(text(d, 5, 20)).toBe('ﾐﾂﾋﾞｼﾕ-ｴﾌｼﾞｴｲ'.padEnd(15));
    expect(text(d, 20, 23)).toBe('123');
    expect(text(d, 23, 38)).toBe('ｼﾝｼﾞﾕｸ'.padEnd(15));
    expect(text(d, 38, 42)).toBe('    '); // 手形交換所番号
    expect(text(d, 42, 50)).toBe('27654321');
    expect(text(d, 50, 80)).toBe('ﾔﾏﾀﾞ ﾀﾛｳ'.padEnd(30));
    expect(text(d, 80, 90)).toBe('0000012000');
    expect(text(d, 90, 91)).toBe('0'); // 新規コード
    expect(text(d, 91, 101)).toBe('0000000042');
    expect(text(d, 101, 111)).toBe(' '.repeat(10));
    expect(text(d, 111, 113)).toBe('7 '); // 振込指定区分 電信, 識別表示 blank
    expect(text(d, 113, 120)).toBe(' '.repeat(7));
    expect(text(recs[2], 80, 90)).toBe('9999999999');
    expect(text(recs[2], 91, 101)).toBe(' '.repeat(10)); // no customer code
  });

  test('half-width kana are single Shift_JIS bytes', () => {
    expect([...recs[1].subarray(50, 53)]).toEqual([0xd4, 0xcf, 0xc0]); // ﾔﾏﾀ
    expect(recs[1][53]).toBe(0xde); // ﾞ
  });

  test('the trailer carries the count and the total; the end record is blank', () => {
    const t = recs[recs.length - 2];
    expect(text(t, 0, 1)).toBe('8');
    expect(text(t, 1, 7)).toBe('000003');
    expect(text(t, 7, 19)).toBe(String(12000 + 9_999_999_999 + 1).padStart(12, '0'));
    expect(text(t, 19, 120)).toBe(' '.repeat(101));
    expect(text(recs[recs.length - 1], 0, 120)).toBe('9' + ' '.repeat(119));
  });

  test('full-width names are converted before they are written', () => {
    const b = encodeZenginTransfer({ ...header, requesterName: 'カ）アイシーカード' }, [rec({ payeeName: 'やまだ　たろう', bankName: 'みずほ' })]);
    const [h, d] = lines(b);
    expect(text(h, 14, 54).trimEnd()).toBe('ｶ)ｱｲｼ-ｶ-ﾄﾞ');
    expect(text(d, 50, 80).trimEnd()).toBe('ﾔﾏﾀﾞ ﾀﾛｳ');
    expect(text(d, 5, 20).trimEnd()).toBe('ﾐｽﾞﾎ');
  });

  test('a name that fills its width exactly fits; one byte more does not (voiced marks count)', () => {
    const full = 'ｱ'.repeat(30);
    expect(decodeZenginTransfer(encodeZenginTransfer(header, [rec({ payeeName: full })])).records[0].payeeName).toBe(full);
    expectZengin(() => encodeZenginTransfer(header, [rec({ payeeName: 'ｱ'.repeat(31) })]), 'data record 1', 'payeeName', '31 bytes', 'at most 30');
    expectZengin(() => encodeZenginTransfer(header, [rec({ payeeName: 'ガ'.repeat(16) })]), 'payeeName', '32 bytes');
    expectZengin(() => encodeZenginTransfer({ ...header, requesterName: 'A'.repeat(41) }, [rec()]), 'header', 'requesterName', 'at most 40');
    expectZengin(() => encodeZenginTransfer({ ...header, bankName: 'ｱ'.repeat(16) }, [rec()]), 'header', 'bankName', 'at most 15');
  });
});

describe('decodeZenginTransfer', () => {
  test('round trip', () => {
    const out = decodeZenginTransfer(encodeZenginTransfer(header, records));
    expect(out.header).toEqual(header);
    expect(out.records).toEqual(records);
    expect(out.totalCount).toBe(3);
    expect(out.totalAmountMinor).toBe(12000 + 9_999_999_999 + 1);
  });

  test('short customer codes come back zero-padded to 10 digits', () => {
    expect(decodeZenginTransfer(encodeZenginTransfer(header, [rec({ customerCode: '42' })])).records[0].customerCode).toBe('0000000042');
  });

  test('round trip of any valid file (property)', () => {
    const digits = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: n, maxLength: n });
    const kana = (max: number) => fc.string({ unit: fc.constantFrom(...'ｱｲｳｴｵｶﾞﾊﾟﾝ ()-./AZ09'), minLength: 1, maxLength: max }).filter((s) => s.trim() === s && s.length > 0);
    const record = fc.record({
      bankCode: digits(4), bankName: kana(15), branchCode: digits(3), branchName: kana(15),
      accountType: fc.constantFrom('1' as const, '2' as const, '4' as const), accountNumber: digits(7),
      payeeName: kana(30), amountMinor: fc.integer({ min: 1, max: 9_999_999_999 }),
    });
    fc.assert(fc.property(fc.array(record, { minLength: 1, maxLength: 20 }), (rs) => {
      const buf = encodeZenginTransfer(header, rs);
      expect(buf.length).toBe((rs.length + 3) * 122);
      const out = decodeZenginTransfer(buf);
      expect(out.records).toEqual(rs);
      expect(out.totalCount).toBe(rs.length);
      expect(out.totalAmountMinor).toBe(rs.reduce((s, r) => s + r.amountMinor, 0));
    }), { numRuns: 200 });
  });

  test('accepts a file without CRLF and with an EOF byte', () => {
    const buf = encodeZenginTransfer(header, records);
    const bare = Buffer.concat([...lines(buf), Buffer.from([0x1a])]);
    expect(decodeZenginTransfer(bare).records).toEqual(records);
  });

  const good = () => Buffer.from(encodeZenginTransfer(header, records));
  const patch = (buf: Buffer, record: number, at: number, s: string) => {
    buf.write(s, record * 122 + at, 'latin1');
    return buf;
  };

  test('rejects trailer totals that disagree with the data records', () => {
    expectZengin(() => decodeZenginTransfer(patch(good(), 4, 1, '000002')), 'trailer', 'totalCount', 'says 2', '3 data records');
    expectZengin(() => decodeZenginTransfer(patch(good(), 4, 7, '000000000001')), 'trailer', 'totalAmount', 'says 1');
  });

  test('rejects a bad record sequence, size or constant', () => {
    expectZengin(() => decodeZenginTransfer(good().subarray(0, 122 * 4)), 'data kinds "1222"');
    expectZengin(() => decodeZenginTransfer(good().subarray(0, 122 * 5 - 10)), 'only 112 bytes left');
    expectZengin(() => decodeZenginTransfer(patch(good(), 0, 1, '11')), '種別コード', '21');
    expectZengin(() => decodeZenginTransfer(patch(good(), 0, 3, '1')), 'コード区分');
    expectZengin(() => decodeZenginTransfer(patch(good(), 2, 80, '00000000x0')), 'data record 2', 'amountMinor');
    expectZengin(() => decodeZenginTransfer(patch(good(), 2, 80, '0000000000')), 'data record 2', 'amountMinor', 'positive');
    expectZengin(() => decodeZenginTransfer(patch(good(), 1, 50, 'yamada')), 'data record 1', 'payeeName', 'outside the Zengin set');
    expectZengin(() => decodeZenginTransfer(patch(good(), 1, 112, 'Y')), 'data record 1', '識別表示');
    expectZengin(() => decodeZenginTransfer(patch(good(), 1, 38, '12AB')), '手形交換所番号');
    expectZengin(() => decodeZenginTransfer(patch(good(), 0, 54, '1332')), 'header', 'transferDate');
  });
});

describe('toHalfWidthKana', () => {
  test('katakana, hiragana, voiced and small kana', () => {
    expect(toHalfWidthKana('アイウエオ')).toBe('ｱｲｳｴｵ');
    expect(toHalfWidthKana('がっこう')).toBe('ｶﾞﾂｺｳ');
    expect(toHalfWidthKana('パソコン')).toBe('ﾊﾟｿｺﾝ');
    expect(toHalfWidthKana('ヴィ')).toBe('ｳﾞｲ');
    expect(toHalfWidthKana('キュウヨ ショウゴ')).toBe('ｷﾕｳﾖ ｼﾖｳｺﾞ');
    expect(toHalfWidthKana('ｷｬｯｼｭ')).toBe('ｷﾔﾂｼﾕ');
    expect(toHalfWidthKana('カ\u3099')).toBe('ｶﾞ'); // decomposed voiced mark
  });

  test('letters, digits, spaces and the allowed symbols', () => {
    expect(toHalfWidthKana('abc XYZ 019')).toBe('ABC XYZ 019');
    expect(toHalfWidthKana('ＡＢＣ１２３ｄｅｆ')).toBe('ABC123DEF');
    expect(toHalfWidthKana('カ）ヤマダ　タロウ')).toBe('ｶ)ﾔﾏﾀﾞ ﾀﾛｳ');
    expect(toHalfWidthKana('（ユ）．／－')).toBe('(ﾕ)./-');
    expect(toHalfWidthKana('データー')).toBe('ﾃﾞ-ﾀ-');
  });

  test('is idempotent on its output', () => {
    const s = toHalfWidthKana('かぶしきがいしゃ　ＩＣカード（テスト）');
    expect(toHalfWidthKana(s)).toBe(s);
  });

  test('throws ZenginError for what banks cannot take', () => {
    for (const bad of ['山田', 'ヲ', 'を', '・', '&', ',', 'ß', 'é', '😀', '\n']) {
      expectZengin(() => toHalfWidthKana(`ｱ${bad}`), 'cannot represent', 'at character 2');
    }
  });
});

describe('validation: every field, named with its record', () => {
  const bad = (h: Partial<ZenginHeader>, parts: string[]) => expectZengin(() => encodeZenginTransfer({ ...header, ...h } as ZenginHeader, [rec()]), 'header', ...parts);
  const badRec = (r: Partial<ZenginRecord>, parts: string[]) => expectZengin(() => encodeZenginTransfer(header, [rec(), rec(r)]), 'data record 2', ...parts);

  test('header', () => {
    bad({ requesterCode: '123456789' }, ['requesterCode', '10 digits']);
    bad({ requesterCode: '12345678901' }, ['requesterCode']);
    bad({ requesterCode: '12345A7890' }, ['requesterCode']);
    bad({ requesterName: '' }, ['requesterName', 'empty']);
    bad({ requesterName: '株式会社' }, ['requesterName', 'cannot represent']);
    bad({ transferDate: '425' }, ['transferDate', '4 digits']);
    bad({ transferDate: '1301' }, ['transferDate', 'real date']);
    bad({ transferDate: '0230' }, ['transferDate', 'real date']);
    bad({ transferDate: '0400' }, ['transferDate']);
    bad({ bankCode: '01' }, ['bankCode', '4 digits']);
    bad({ bankName: '銀行' }, ['bankName']);
    bad({ branchCode: '0001' }, ['branchCode', '3 digits']);
    bad({ branchName: 'ｱ'.repeat(16) }, ['branchName']);
    bad({ accountType: '9' as never }, ['accountType']);
    bad({ accountNumber: '123456' }, ['accountNumber', '7 digits']);
    expect(() => encodeZenginTransfer({ ...header, transferDate: '0229' }, [rec()])).not.toThrow();
  });

  test('data records', () => {
    badRec({ bankCode: '5' }, ['bankCode']);
    badRec({ bankName: 'ＵＦＪ銀行' }, ['bankName']);
    badRec({ branchCode: '12' }, ['branchCode']);
    badRec({ branchName: '新宿' }, ['branchName']);
    badRec({ accountType: '3' as never }, ['accountType']);
    badRec({ accountNumber: '12345678' }, ['accountNumber']);
    badRec({ payeeName: '   ' }, ['payeeName', 'empty']);
    badRec({ payeeName: 'ヤマダ・タロウ' }, ['payeeName', '・']);
    badRec({ customerCode: '' }, ['customerCode']);
    badRec({ customerCode: '12345678901' }, ['customerCode']);
    badRec({ customerCode: 'A1' }, ['customerCode']);
  });

  test('amounts: a positive safe integer up to 9,999,999,999', () => {
    for (const amountMinor of [0, -1, 1.5, 10_000_000_000, NaN, Infinity, '100' as never]) badRec({ amountMinor }, ['amountMinor', 'positive integer']);
    expect(() => encodeZenginTransfer(header, [rec({ amountMinor: 9_999_999_999 })])).not.toThrow();
  });

  test('the file needs a record and a total that fits 12 digits', () => {
    expectZengin(() => encodeZenginTransfer(header, []), 'at least one data record');
    const many = Array.from({ length: 101 }, () => rec({ amountMinor: 9_999_999_999 }));
    expectZengin(() => encodeZenginTransfer(header, many), 'trailer', 'totalAmount');
  });
});
