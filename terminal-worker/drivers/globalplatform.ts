/**
 * GlobalPlatform Card Specification 2.x card-content-management APDUs (pure byte builders and
 * parsers): SELECT ISD, INITIALIZE UPDATE / EXTERNAL AUTHENTICATE (SCP02), INSTALL [for load],
 * LOAD, INSTALL [for install and make selectable], GET STATUS, DELETE; BER-TLV helpers.
 * Everything here is short APDUs (≤ 255 data bytes), matching apdu.ts.
 */
import type { CommandApdu } from './apdu';

/** The Issuer Security Domain AID this project's cards use (GP's default card-manager AID). */
export const ISD_AID = Buffer.from('A000000151000000', 'hex');

export const INS = {
  SELECT: 0xa4,
  INITIALIZE_UPDATE: 0x50,
  EXTERNAL_AUTHENTICATE: 0x82,
  INSTALL: 0xe6,
  LOAD: 0xe8,
  GET_STATUS: 0xf2,
  DELETE: 0xe4,
} as const;

export const INSTALL_FOR_LOAD = 0x02;
export const INSTALL_FOR_INSTALL_AND_SELECTABLE = 0x0c; // "for install" (04) | "for make selectable" (08)
export const GET_STATUS_APPS = 0x40; // applications and security domains
export const GET_STATUS_LOAD_FILES = 0x20;
export const GET_STATUS_TLV_FIRST = 0x02; // P2: response in the TLV format, first occurrence
export const GET_STATUS_TLV_NEXT = 0x03;
/** Life cycle states (GP 2.2 §11.1.1). */
export const LIFE_CYCLE = { LOADED: 0x01, INSTALLED: 0x03, SELECTABLE: 0x07 } as const;

/** BER-TLV length field. */
export function berLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  if (n < 0x10000) return Buffer.from([0x82, n >> 8, n & 0xff]);
  throw new RangeError(`TLV length ${n} too large`);
}

export function tlv(tag: number, value: Uint8Array): Buffer {
  const t = tag > 0xff ? Buffer.from([tag >> 8, tag & 0xff]) : Buffer.from([tag]);
  return Buffer.concat([t, berLength(value.length), Buffer.from(value)]);
}

export interface Tlv {
  tag: number;
  value: Buffer;
}

/** Parses a sequence of BER-TLV objects (tags of one or two bytes). Throws RangeError if truncated. */
export function parseTlvs(b: Buffer): Tlv[] {
  const out: Tlv[] = [];
  let i = 0;
  while (i < b.length) {
    let tag = b[i++];
    if ((tag & 0x1f) === 0x1f) {
      if (i >= b.length) throw new RangeError('TLV tag truncated');
      tag = (tag << 8) | b[i++];
    }
    if (i >= b.length) throw new RangeError(`TLV ${tag.toString(16)} has no length`);
    let len = b[i++];
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n < 1 || n > 2 || i + n > b.length) throw new RangeError('TLV length field malformed');
      len = n === 1 ? b[i] : b.readUInt16BE(i);
      i += n;
    }
    if (i + len > b.length) throw new RangeError(`TLV ${tag.toString(16)} value truncated`);
    out.push({ tag, value: b.subarray(i, i + len) });
    i += len;
  }
  return out;
}

const lv = (b: Uint8Array): Buffer => {
  if (b.length > 255) throw new RangeError('LV field longer than 255 bytes');
  return Buffer.concat([Buffer.from([b.length]), Buffer.from(b)]);
};

export function selectIsd(aid: Buffer = ISD_AID): CommandApdu {
  return { cla: 0x00, ins: INS.SELECT, p1: 0x04, p2: 0x00, data: aid, le: 256 };
}

export function initializeUpdate(hostChallenge: Buffer, keyVersion = 0): CommandApdu {
  return { cla: 0x80, ins: INS.INITIALIZE_UPDATE, p1: keyVersion, p2: 0x00, data: hostChallenge, le: 256 };
}

/** Parsed INITIALIZE UPDATE response (SCP02): 10 + 2 + 2 + 6 + 8 bytes. */
export interface InitUpdateResponse {
  diversificationData: Buffer;
  keyVersion: number;
  scp: number;
  sequenceCounter: Buffer;
  cardChallenge: Buffer;
  cardCryptogram: Buffer;
}

export function parseInitializeUpdate(r: Buffer): InitUpdateResponse {
  if (r.length !== 28) throw new RangeError(`INITIALIZE UPDATE answered ${r.length} bytes, SCP02 has 28`);
  return { diversificationData: r.subarray(0, 10), keyVersion: r[10], scp: r[11], sequenceCounter: r.subarray(12, 14), cardChallenge: r.subarray(14, 20), cardCryptogram: r.subarray(20, 28) };
}

/** Un-MACed body of EXTERNAL AUTHENTICATE; the channel appends the C-MAC. P1 = security level. */
export function externalAuthenticate(hostCryptogram: Buffer, securityLevel = 0x01): CommandApdu {
  return { cla: 0x80, ins: INS.EXTERNAL_AUTHENTICATE, p1: securityLevel, p2: 0x00, data: hostCryptogram };
}

/** INSTALL [for load]: load file AID, SD AID (empty: the ISD), no hash, C6 = code size, no token. */
export function installForLoad(loadFileAid: Buffer, codeSize: number, sdAid: Buffer = Buffer.alloc(0)): CommandApdu {
  const params = tlv(0xef, tlv(0xc6, Buffer.from([(codeSize >> 24) & 0xff, (codeSize >> 16) & 0xff, (codeSize >> 8) & 0xff, codeSize & 0xff]).subarray(codeSize > 0xffff ? 0 : 2)));
  const data = Buffer.concat([lv(loadFileAid), lv(sdAid), lv(Buffer.alloc(0)), lv(params), lv(Buffer.alloc(0))]);
  return { cla: 0x80, ins: INS.INSTALL, p1: INSTALL_FOR_LOAD, p2: 0x00, data, le: 256 };
}

/**
 * The Load File Data Block (C4 ‖ length ‖ package bytes) split into LOAD commands of at most
 * `maxBlock` data bytes; P1 = 80 on the last block, P2 = block number 0..255.
 */
export function loadCommands(packageBytes: Buffer, maxBlock: number): CommandApdu[] {
  if (maxBlock < 1 || maxBlock > 255) throw new RangeError(`LOAD block size ${maxBlock} out of 1..255`);
  const lfdb = tlv(0xc4, packageBytes);
  const n = Math.ceil(lfdb.length / maxBlock);
  if (n > 256) throw new RangeError(`package of ${packageBytes.length} bytes needs ${n} LOAD blocks; GP allows 256`);
  const out: CommandApdu[] = [];
  for (let i = 0; i < n; i++) {
    out.push({ cla: 0x80, ins: INS.LOAD, p1: i === n - 1 ? 0x80 : 0x00, p2: i, data: lfdb.subarray(i * maxBlock, (i + 1) * maxBlock), le: 256 });
  }
  return out;
}

/** INSTALL [for install and make selectable]: privileges 00, application parameters C9 (empty). */
export function installForInstall(loadFileAid: Buffer, moduleAid: Buffer, instanceAid: Buffer, appParams: Buffer = Buffer.alloc(0)): CommandApdu {
  const data = Buffer.concat([lv(loadFileAid), lv(moduleAid), lv(instanceAid), lv(Buffer.from([0x00])), lv(tlv(0xc9, appParams)), lv(Buffer.alloc(0))]);
  return { cla: 0x80, ins: INS.INSTALL, p1: INSTALL_FOR_INSTALL_AND_SELECTABLE, p2: 0x00, data, le: 256 };
}

/** GET STATUS with search criterion "any AID" (4F 00), TLV response format. */
export function getStatus(p1: number, next = false): CommandApdu {
  return { cla: 0x80, ins: INS.GET_STATUS, p1, p2: next ? GET_STATUS_TLV_NEXT : GET_STATUS_TLV_FIRST, data: Buffer.from([0x4f, 0x00]), le: 256 };
}

/** DELETE an object by AID; P2 = 80 also deletes its related objects (instances of a load file). */
export function deleteAid(aid: Buffer, related = true): CommandApdu {
  return { cla: 0x80, ins: INS.DELETE, p1: 0x00, p2: related ? 0x80 : 0x00, data: tlv(0x4f, aid), le: 256 };
}

export interface StatusEntry {
  aid: Buffer;
  lifeCycle: number;
  privileges: Buffer;
}

/** Parses a GET STATUS TLV response: E3 { 4F aid, 9F70 life cycle, C5 privileges }. */
export function parseGetStatus(data: Buffer): StatusEntry[] {
  return parseTlvs(data).map((e) => {
    if (e.tag !== 0xe3) throw new RangeError(`GET STATUS entry tag ${e.tag.toString(16)} (expected E3)`);
    const inner = parseTlvs(e.value);
    const aid = inner.find((t) => t.tag === 0x4f);
    const lc = inner.find((t) => t.tag === 0x9f70);
    if (!aid || !lc) throw new RangeError('GET STATUS entry without 4F or 9F70');
    return { aid: Buffer.from(aid.value), lifeCycle: lc.value[0], privileges: Buffer.from(inner.find((t) => t.tag === 0xc5)?.value ?? []) };
  });
}

/** Encodes GET STATUS entries (the card side of parseGetStatus). */
export function encodeStatusEntry(e: StatusEntry): Buffer {
  return tlv(0xe3, Buffer.concat([tlv(0x4f, e.aid), tlv(0x9f70, Buffer.from([e.lifeCycle])), tlv(0xc5, e.privileges)]));
}
