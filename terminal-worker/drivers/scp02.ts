/**
 * GlobalPlatform SCP02 (Card Spec 2.2 Amendment/Annex E), implementation option i=55:
 * explicit initiation, C-MAC on the whole APDU, ICV encrypted with the first half of S-MAC.
 * Only C-MAC (security level 01) is offered: command data is not encrypted, responses carry no MAC.
 *
 * Shared by the driver (host side) and the virtual card (card side), so both derive the same keys;
 * the arithmetic follows the spec (3DES-CBC derivation, ISO 9797-1 M2 padding, retail MAC).
 */
import crypto from 'node:crypto';

/** GlobalPlatform's well-known test key (ENC = MAC = DEK = 40..4F): for test cards only. */
export const GP_TEST_KEY = Buffer.from('404142434445464748494A4B4C4D4E4F', 'hex');

export interface StaticKeys {
  enc: Buffer;
  mac: Buffer;
  dek: Buffer;
}
export const TEST_KEYS: StaticKeys = { enc: GP_TEST_KEY, mac: GP_TEST_KEY, dek: GP_TEST_KEY };

export interface SessionKeys {
  enc: Buffer;
  mac: Buffer;
  dek: Buffer;
}

/** ISO 9797-1 padding method 2: 80 then zeros to a multiple of 8. */
export function pad80(data: Buffer): Buffer {
  const n = 8 - ((data.length + 1) % 8 === 0 ? 8 : (data.length + 1) % 8);
  return Buffer.concat([data, Buffer.from([0x80]), Buffer.alloc(n)]);
}

function tdesCbc(key16: Buffer, data: Buffer, iv: Buffer = Buffer.alloc(8)): Buffer {
  const c = crypto.createCipheriv('des-ede-cbc', key16, iv);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

/** Single DES as 2-key 3DES with K1 = K2 (OpenSSL 3 keeps plain DES in the legacy provider). */
function desCbc(key8: Buffer, data: Buffer, iv: Buffer = Buffer.alloc(8)): Buffer {
  return tdesCbc(Buffer.concat([key8, key8]), data, iv);
}

/** Session key: 3DES-CBC(static, IV 0, constant ‖ sequence counter ‖ 12 × 00). */
export function deriveSessionKeys(keys: StaticKeys, sequenceCounter: Buffer): SessionKeys {
  const derive = (key: Buffer, constant: number) => tdesCbc(key, Buffer.concat([Buffer.from([0x01, constant]), sequenceCounter, Buffer.alloc(12)]));
  return { enc: derive(keys.enc, 0x82), mac: derive(keys.mac, 0x01), dek: derive(keys.dek, 0x81) };
}

/** Full 3DES MAC (ISO 9797-1 algorithm 1, M2 padding) used for the cryptograms. */
function fullMac(key16: Buffer, data: Buffer): Buffer {
  const out = tdesCbc(key16, pad80(data));
  return out.subarray(out.length - 8);
}

export function cardCryptogram(s: SessionKeys, hostChallenge: Buffer, seq: Buffer, cardChallenge: Buffer): Buffer {
  return fullMac(s.enc, Buffer.concat([hostChallenge, seq, cardChallenge]));
}

export function hostCryptogram(s: SessionKeys, hostChallenge: Buffer, seq: Buffer, cardChallenge: Buffer): Buffer {
  return fullMac(s.enc, Buffer.concat([seq, cardChallenge, hostChallenge]));
}

/** Retail MAC (ISO 9797-1 algorithm 3): single DES CBC with K1, last block 3DES. */
export function retailMac(key16: Buffer, data: Buffer, icv: Buffer): Buffer {
  const p = pad80(data);
  const k1 = key16.subarray(0, 8);
  let chain: Buffer<ArrayBufferLike> = icv;
  if (p.length > 8) {
    const head = desCbc(k1, p.subarray(0, p.length - 8), icv);
    chain = head.subarray(head.length - 8);
  }
  return tdesCbc(key16, p.subarray(p.length - 8), chain);
}

/**
 * C-MAC state of one secure channel (either side). The MAC covers CLA (with bit 04 set), INS, P1,
 * P2, Lc + 8 and the data; the next ICV is the last C-MAC encrypted with DES(K1 of S-MAC) (i=55).
 */
export class CMac {
  private icv: Buffer<ArrayBufferLike> = Buffer.alloc(8);
  private first = true;
  constructor(private readonly sMac: Buffer) {}

  /** MAC over a command header and data as sent with CLA|04 and Lc including the MAC. */
  next(cla: number, ins: number, p1: number, p2: number, data: Buffer): Buffer {
    let icv: Buffer<ArrayBufferLike> = this.icv;
    if (!this.first) {
      const c = crypto.createCipheriv('des-ede-ecb', Buffer.concat([this.sMac.subarray(0, 8), this.sMac.subarray(0, 8)]), null);
      c.setAutoPadding(false);
      icv = Buffer.concat([c.update(icv), c.final()]);
    }
    const mac = retailMac(this.sMac, Buffer.concat([Buffer.from([cla | 0x04, ins, p1, p2, data.length + 8]), data]), icv);
    this.icv = mac;
    this.first = false;
    return mac;
  }
}
