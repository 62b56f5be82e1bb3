/**
 * Zengin (全銀協) 総合振込 — the fixed-length bulk transfer file Japanese banks accept for payouts.
 *
 * Layout (全銀協規定形式, 種別コード 21 総合振込), as published in banks' own format sheets, e.g.
 * 群馬銀行「全銀協制定ファイルフォーマット【総合振込】」
 * (https://expydoc.com/doc/11700435), みずほ銀行 Web21「ファイルレイアウト 総合振込(全銀形式)」
 * (https://happylibus.com/doc/455113) and the byte positions in
 * https://gulliver-webhelp.askids-cloud.jp/help/gyoumu/99sonota/case_sonota02 :
 *
 *   header  (1)  data kind 1 | 種別コード 2 "21" | コード区分 1 "0" | 依頼人コード 10 | 依頼人名 40 |
 *                取組日 MMDD 4 | 仕向銀行番号 4 | 銀行名 15 | 支店番号 3 | 支店名 15 | 預金種目 1 |
 *                口座番号 7 | dummy 17                                                      = 120
 *   data    (2)  data kind 1 | 被仕向銀行番号 4 | 銀行名 15 | 支店番号 3 | 支店名 15 |
 *                手形交換所番号 4 (spaces) | 預金種目 1 | 口座番号 7 | 受取人名 30 | 振込金額 10 |
 *                新規コード 1 "0" | 顧客コード1 10 | 顧客コード2 10 (spaces) | 振込指定区分 1 "7" 電信 |
 *                識別表示 1 " " (customer codes, not EDI) | dummy 7                    = 120
 *   trailer (8)  data kind 1 | 合計件数 6 | 合計金額 12 | dummy 101                          = 120
 *   end     (9)  data kind 1 | dummy 119                                                    = 120
 *
 * Records are 120 bytes each, followed by CRLF. N fields are digits, right-aligned, zero-filled;
 * C fields are left-aligned, space-filled half-width characters. Widths are Shift_JIS bytes
 * (iconv-lite). コード区分 0 is "JIS": for the Zengin character set (digits, A–Z, half-width kana,
 * space and ( ) - . /) JIS X 0201 and Shift_JIS are byte-identical.
 *
 * Choices a bank may want differently: unused N fields (手形交換所番号, 顧客コード2, an absent
 * 顧客コード1) are spaces; 振込指定区分 is 7 (電信扱). Decoding accepts spaces or zeros there.
 * The half-width set follows the 全銀協 list quoted by banks and payroll vendors: small kana become
 * large (ッ→ﾂ), ー becomes "-", ヲ and ・ are refused (not in the set).
 */
import iconv from 'iconv-lite';

export interface ZenginHeader {
  requesterCode: string;
  requesterName: string;
  /** 取組日 (transfer date), MMDD. */
  transferDate: string;
  bankCode: string;
  bankName: string;
  branchCode: string;
  branchName: string;
  accountType: '1' | '2' | '4';
  accountNumber: string;
}

export interface ZenginRecord {
  bankCode: string;
  bankName: string;
  branchCode: string;
  branchName: string;
  accountType: '1' | '2' | '4';
  accountNumber: string;
  payeeName: string;
  amountMinor: number;
  /** 顧客コード1: up to 10 digits, zero-padded on the left when encoded (decoded as 10 digits). */
  customerCode?: string;
}

export class ZenginError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ZenginError';
  }
}

const RECORD_BYTES = 120;
const MAX_AMOUNT_MINOR = 9_999_999_999;
const MAX_TOTAL_MINOR = 999_999_999_999;
const MAX_COUNT = 999_999;
const ENCODING = 'Shift_JIS';
const CRLF = Buffer.from('\r\n', 'latin1');

// ---------------------------------------------------------------- half-width kana

const FULL = 'アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン';
const HALF = 'ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜﾝ';
const KANA = new Map<string, string>();
for (let i = 0; i < FULL.length; i++) KANA.set(FULL[i], HALF[i]);
const SMALL: Record<string, string> = { ァ: 'ｱ', ィ: 'ｲ', ゥ: 'ｳ', ェ: 'ｴ', ォ: 'ｵ', ッ: 'ﾂ', ャ: 'ﾔ', ュ: 'ﾕ', ョ: 'ﾖ', ヮ: 'ﾜ', ヵ: 'ｶ', ヶ: 'ｹ', ｧ: 'ｱ', ｨ: 'ｲ', ｩ: 'ｳ', ｪ: 'ｴ', ｫ: 'ｵ', ｯ: 'ﾂ', ｬ: 'ﾔ', ｭ: 'ﾕ', ｮ: 'ﾖ' };
for (const [k, v] of Object.entries(SMALL)) KANA.set(k, v);
const VOICED = 'ガギグゲゴザジズゼゾダヂヅデドバビブベボ';
const UNVOICED = 'カキクケコサシスセソタチツテトハヒフヘホ';
for (let i = 0; i < VOICED.length; i++) KANA.set(VOICED[i], KANA.get(UNVOICED[i]) + 'ﾞ');
for (let i = 0; i < 5; i++) KANA.set('パピプペポ'[i], KANA.get('ハヒフヘホ'[i]) + 'ﾟ');
KANA.set('ヴ', 'ｳﾞ');
for (const c of ['゛', '\u3099']) KANA.set(c, 'ﾞ');
for (const c of ['゜', '\u309A']) KANA.set(c, 'ﾟ');
for (const c of ['ー', 'ｰ', '－', '‐', '−', '—']) KANA.set(c, '-');
KANA.set('\u3000', ' ');

/** Characters a Zengin C field may hold once converted. */
const ALLOWED = /^[0-9A-Z ()\-./\uFF71-\uFF9F]*$/;

/**
 * Converts to the character set banks accept in Zengin name fields: full-width katakana and
 * hiragana → half-width katakana (voiced marks as a separate ﾞ/ﾟ, small kana as large), full-width
 * ASCII → ASCII, letters → upper case. Throws ZenginError for anything else (kanji, ヲ, ・, …).
 */
export function toHalfWidthKana(s: string): string {
  let out = '';
  let pos = 0;
  for (const ch of s) {
    pos++;
    let c = ch;
    const code = c.codePointAt(0)!;
    if (code >= 0x3041 && code <= 0x3096) c = String.fromCodePoint(code + 0x60); // hiragana → katakana
    else if (code >= 0xff01 && code <= 0xff5e) c = String.fromCodePoint(code - 0xfee0); // full-width ASCII
    const mapped = KANA.get(c) ?? (c >= 'a' && c <= 'z' ? c.toUpperCase() : c);
    if (mapped.length === 0 || !ALLOWED.test(mapped)) {
      throw new ZenginError(`cannot represent "${ch}" (U+${code.toString(16).toUpperCase().padStart(4, '0')}) at character ${pos} in the Zengin half-width set (digits, A-Z, half-width kana, space ( ) - . /)`);
    }
    out += mapped;
  }
  return out;
}

// ---------------------------------------------------------------- field helpers

type Where = string; // "header", "data record 3", "trailer" …

function fail(where: Where, field: string, problem: string): never {
  throw new ZenginError(`Zengin ${where}: ${field} ${problem}`);
}

function checkDigits(where: Where, field: string, value: unknown, width: number): string {
  if (typeof value !== 'string' || !new RegExp(`^[0-9]{${width}}$`).test(value)) {
    fail(where, field, `must be exactly ${width} digits, got ${JSON.stringify(value)}`);
  }
  return value;
}

function checkAccountType(where: Where, value: unknown): '1' | '2' | '4' {
  if (value !== '1' && value !== '2' && value !== '4') fail(where, 'accountType', `must be "1" (普通), "2" (当座) or "4" (貯蓄), got ${JSON.stringify(value)}`);
  return value;
}

function checkMmdd(where: Where, value: unknown): string {
  const s = checkDigits(where, 'transferDate', value, 4);
  const month = Number(s.slice(0, 2));
  const day = Number(s.slice(2));
  const days = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  if (days === undefined || day < 1 || day > days) fail(where, 'transferDate', `must be a real date as MMDD, got "${s}"`);
  return s;
}

function checkAmount(where: Where, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0 || value > MAX_AMOUNT_MINOR) {
    fail(where, 'amountMinor', `must be a positive integer ≤ ${MAX_AMOUNT_MINOR}, got ${String(value)}`);
  }
  return value;
}

/** Converts and checks a C field; returns the half-width text (no padding). */
function checkText(where: Where, field: string, value: unknown, width: number, required: boolean): string {
  if (typeof value !== 'string') fail(where, field, `must be a string, got ${typeof value}`);
  let text: string;
  try {
    text = toHalfWidthKana(value);
  } catch (err) {
    fail(where, field, (err as Error).message);
  }
  const bytes = iconv.encode(text, ENCODING).length;
  if (bytes > width) fail(where, field, `is ${bytes} bytes in Shift_JIS, at most ${width} fit: "${text}"`);
  if (required && text.trim() === '') fail(where, field, 'must not be empty');
  return text;
}

function checkHeader(h: ZenginHeader): ZenginHeader {
  const w = 'header';
  if (h === null || typeof h !== 'object') fail(w, 'header', 'must be an object');
  return {
    requesterCode: checkDigits(w, 'requesterCode', h.requesterCode, 10),
    requesterName: checkText(w, 'requesterName', h.requesterName, 40, true),
    transferDate: checkMmdd(w, h.transferDate),
    bankCode: checkDigits(w, 'bankCode', h.bankCode, 4),
    bankName: checkText(w, 'bankName', h.bankName, 15, false),
    branchCode: checkDigits(w, 'branchCode', h.branchCode, 3),
    branchName: checkText(w, 'branchName', h.branchName, 15, false),
    accountType: checkAccountType(w, h.accountType),
    accountNumber: checkDigits(w, 'accountNumber', h.accountNumber, 7),
  };
}

function checkRecord(r: ZenginRecord, n: number): ZenginRecord {
  const w = `data record ${n}`;
  if (r === null || typeof r !== 'object') fail(w, 'record', 'must be an object');
  let customerCode: string | undefined;
  if (r.customerCode !== undefined) {
    if (typeof r.customerCode !== 'string' || !/^[0-9]{1,10}$/.test(r.customerCode)) fail(w, 'customerCode', `must be 1 to 10 digits, got ${JSON.stringify(r.customerCode)}`);
    customerCode = r.customerCode.padStart(10, '0');
  }
  return {
    bankCode: checkDigits(w, 'bankCode', r.bankCode, 4),
    bankName: checkText(w, 'bankName', r.bankName, 15, false),
    branchCode: checkDigits(w, 'branchCode', r.branchCode, 3),
    branchName: checkText(w, 'branchName', r.branchName, 15, false),
    accountType: checkAccountType(w, r.accountType),
    accountNumber: checkDigits(w, 'accountNumber', r.accountNumber, 7),
    payeeName: checkText(w, 'payeeName', r.payeeName, 30, true),
    amountMinor: checkAmount(w, r.amountMinor),
    ...(customerCode === undefined ? {} : { customerCode }),
  };
}

// ---------------------------------------------------------------- layouts

type Layout = ReadonlyArray<readonly [name: string, width: number]>;
const HEADER: Layout = [['kind', 1], ['typeCode', 2], ['codeKind', 1], ['requesterCode', 10], ['requesterName', 40], ['transferDate', 4], ['bankCode', 4], ['bankName', 15], ['branchCode', 3], ['branchName', 15], ['accountType', 1], ['accountNumber', 7], ['dummy', 17]];
const DATA: Layout = [['kind', 1], ['bankCode', 4], ['bankName', 15], ['branchCode', 3], ['branchName', 15], ['clearingHouse', 4], ['accountType', 1], ['accountNumber', 7], ['payeeName', 30], ['amount', 10], ['newCode', 1], ['customerCode1', 10], ['customerCode2', 10], ['transferKind', 1], ['ediFlag', 1], ['dummy', 7]];
const TRAILER: Layout = [['kind', 1], ['totalCount', 6], ['totalAmount', 12], ['dummy', 101]];
const END: Layout = [['kind', 1], ['dummy', 119]];

/** Builds one 120-byte record; values are already checked, text is left-aligned, numbers zero-filled. */
function build(layout: Layout, values: Record<string, string | number | undefined>): Buffer {
  const parts = layout.map(([name, width]) => {
    const v = values[name];
    const text = typeof v === 'number' ? String(v).padStart(width, '0') : (v ?? '');
    const bytes = iconv.encode(text, ENCODING);
    if (bytes.length > width) throw new ZenginError(`Zengin internal: ${name} overflows ${width} bytes`);
    return Buffer.concat([bytes, Buffer.alloc(width - bytes.length, 0x20)]);
  });
  const record = Buffer.concat(parts);
  if (record.length !== RECORD_BYTES) throw new ZenginError(`Zengin internal: record is ${record.length} bytes`);
  return record;
}

function split(layout: Layout, record: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  for (const [name, width] of layout) {
    out[name] = iconv.decode(record.subarray(at, at + width), ENCODING);
    at += width;
  }
  return out;
}

// ---------------------------------------------------------------- encode / decode

export function encodeZenginTransfer(header: ZenginHeader, records: ZenginRecord[]): Buffer {
  const h = checkHeader(header);
  if (!Array.isArray(records) || records.length === 0) throw new ZenginError('Zengin: at least one data record is required');
  if (records.length > MAX_COUNT) throw new ZenginError(`Zengin trailer: totalCount ${records.length} exceeds ${MAX_COUNT}`);
  const rs = records.map((r, i) => checkRecord(r, i + 1));
  const total = rs.reduce((sum, r) => sum + r.amountMinor, 0);
  if (total > MAX_TOTAL_MINOR) throw new ZenginError(`Zengin trailer: totalAmount ${total} exceeds ${MAX_TOTAL_MINOR} (12 digits)`);

  const lines = [
    build(HEADER, { kind: '1', typeCode: '21', codeKind: '0', ...h }),
    ...rs.map((r) => build(DATA, { kind: '2', ...r, amount: r.amountMinor, newCode: '0', customerCode1: r.customerCode, transferKind: '7', ediFlag: ' ' })),
    build(TRAILER, { kind: '8', totalCount: rs.length, totalAmount: total }),
    build(END, { kind: '9' }),
  ];
  return Buffer.concat(lines.flatMap((l) => [l, CRLF]));
}

/** Splits a file into 120-byte records; CRLF after each record is expected (a bare 120-byte stream and a trailing EOF byte 0x1A are tolerated). */
function records120(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    if (buf.length - at === 1 && buf[at] === 0x1a) break;
    if (buf.length - at < RECORD_BYTES) throw new ZenginError(`Zengin file record ${out.length + 1}: only ${buf.length - at} bytes left, a record is ${RECORD_BYTES}`);
    const rec = buf.subarray(at, at + RECORD_BYTES);
    if (rec.includes(0x0d) || rec.includes(0x0a)) throw new ZenginError(`Zengin file record ${out.length + 1}: line break inside the record (records must be exactly ${RECORD_BYTES} bytes)`);
    out.push(rec);
    at += RECORD_BYTES;
    if (buf[at] === 0x0d && buf[at + 1] === 0x0a) at += 2;
  }
  return out;
}

function unused(where: Where, field: string, value: string): void {
  if (!/^( *|0*)$/.test(value)) fail(where, field, `must be blank (spaces or zeros), got "${value}"`);
}

export function decodeZenginTransfer(buf: Buffer): { header: ZenginHeader; records: ZenginRecord[]; totalCount: number; totalAmountMinor: number } {
  if (!Buffer.isBuffer(buf)) throw new ZenginError('Zengin: input must be a Buffer');
  const recs = records120(buf);
  const kinds = recs.map((r) => String.fromCharCode(r[0])).join('');
  if (!/^12+89$/.test(kinds)) {
    throw new ZenginError(`Zengin file: records must be header (1), data (2)…, trailer (8), end (9); got data kinds "${kinds}"`);
  }

  const hf = split(HEADER, recs[0]);
  if (hf.typeCode !== '21') fail('header', '種別コード', `must be 21 (総合振込), got "${hf.typeCode}"`);
  if (hf.codeKind !== '0') fail('header', 'コード区分', `must be 0 (JIS/Shift_JIS), got "${hf.codeKind}"`);
  const header = checkHeader({ ...hf, requesterName: hf.requesterName.trimEnd(), bankName: hf.bankName.trimEnd(), branchName: hf.branchName.trimEnd() } as unknown as ZenginHeader);
  for (const f of ['requesterName', 'bankName', 'branchName'] as const) {
    if (header[f] !== hf[f].trimEnd()) fail('header', f, `has characters outside the Zengin set: "${hf[f]}"`);
  }

  const records = recs.slice(1, -2).map((rec, i) => {
    const w = `data record ${i + 1}`;
    const f = split(DATA, rec);
    unused(w, '手形交換所番号', f.clearingHouse);
    if (!/^[0-9]$/.test(f.newCode)) fail(w, '新規コード', `must be a digit, got "${f.newCode}"`);
    if (f.ediFlag !== ' ') fail(w, '識別表示', `must be a space (EDI information is not supported), got "${f.ediFlag}"`);
    if (!/^[78 ]$/.test(f.transferKind)) fail(w, '振込指定区分', `must be 7, 8 or a space, got "${f.transferKind}"`);
    unused(w, '顧客コード2', f.customerCode2);
    if (!/^[0-9]{10}$/.test(f.amount)) fail(w, 'amountMinor', `must be 10 digits, got "${f.amount}"`);
    const code1 = f.customerCode1;
    if (!/^( {10}|[0-9]{10})$/.test(code1)) fail(w, 'customerCode', `must be 10 digits or blank, got "${code1}"`);
    const raw = {
      bankCode: f.bankCode, bankName: f.bankName.trimEnd(), branchCode: f.branchCode, branchName: f.branchName.trimEnd(),
      accountType: f.accountType, accountNumber: f.accountNumber, payeeName: f.payeeName.trimEnd(), amountMinor: Number(f.amount),
      ...(code1.trim() === '' ? {} : { customerCode: code1 }),
    } as ZenginRecord;
    const r = checkRecord(raw, i + 1);
    for (const k of ['bankName', 'branchName', 'payeeName'] as const) {
      if (r[k] !== raw[k]) fail(w, k, `has characters outside the Zengin set: "${raw[k]}"`);
    }
    return r;
  });

  const t = split(TRAILER, recs[recs.length - 2]);
  if (!/^[0-9]{6}$/.test(t.totalCount)) fail('trailer', 'totalCount', `must be 6 digits, got "${t.totalCount}"`);
  if (!/^[0-9]{12}$/.test(t.totalAmount)) fail('trailer', 'totalAmount', `must be 12 digits, got "${t.totalAmount}"`);
  const totalCount = Number(t.totalCount);
  const totalAmountMinor = Number(t.totalAmount);
  if (totalCount !== records.length) fail('trailer', 'totalCount', `says ${totalCount} but the file has ${records.length} data records`);
  const sum = records.reduce((s, r) => s + r.amountMinor, 0);
  if (totalAmountMinor !== sum) fail('trailer', 'totalAmount', `says ${totalAmountMinor} but the data records add up to ${sum}`);
  return { header, records, totalCount, totalAmountMinor };
}
