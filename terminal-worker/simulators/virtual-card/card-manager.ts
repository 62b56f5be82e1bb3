/**
 * The virtual card's GlobalPlatform card manager (Issuer Security Domain, AID A000000151000000).
 * `Iso7816Card` hands it SELECT of the ISD AID and every CLA 80–87 command while it is selected.
 *
 * Model: SCP02 (i=55) with C-MAC, static keys = GP test key 40..4F; INSTALL [for load] → LOAD
 * blocks in order (the C4 Load File Data Block) → INSTALL [for install and make selectable];
 * GET STATUS (P1 40 applications, 20 load files; TLV format); DELETE (P2 80: with instances).
 * Non-volatile space for load files is `capacity` bytes (6A84 when it would overflow). Loaded
 * files and instances live in this object, i.e. as long as the card program runs — like the
 * record EF, which is also kept in process memory; a reset or removal aborts a load in progress
 * and frees its space (the partly received file is never registered).
 */
import crypto from 'node:crypto';
import type { CommandApdu } from '../../drivers/apdu';
import {
  GET_STATUS_APPS, GET_STATUS_LOAD_FILES, INS, INSTALL_FOR_INSTALL_AND_SELECTABLE, INSTALL_FOR_LOAD, ISD_AID, LIFE_CYCLE,
  encodeStatusEntry, parseTlvs, type StatusEntry,
} from '../../drivers/globalplatform';
import { CMac, TEST_KEYS, cardCryptogram, deriveSessionKeys, hostCryptogram, type SessionKeys, type StaticKeys } from '../../drivers/scp02';

export interface GpReply {
  data: Buffer;
  sw: number;
}

/** Returned by LOAD when the card was torn away mid-block: the caller answers nothing. */
export const TORN = Symbol('torn');

interface LoadFile {
  aid: Buffer;
  size: number;
  /** Module AIDs the file declares; null: an opaque file (CAP/binary), any module AID is taken. */
  modules: Buffer[] | null;
}

interface PendingLoad {
  aid: Buffer;
  declared: number;
  nextBlock: number;
  received: Buffer[];
  bytes: number;
}

export class CardManager {
  readonly loadFiles: LoadFile[] = [];
  readonly instances: { aid: Buffer; loadFile: Buffer; module: Buffer }[] = [];
  private pending: PendingLoad | null = null;
  private seq = 1;
  private session: { keys: SessionKeys; hostChallenge: Buffer; cardChallenge: Buffer; seqCounter: Buffer; authenticated: boolean; mac: CMac } | null = null;
  selected = false;
  /** Bytes of LOAD data still to be received before the card is torn away (null: no tearing armed). */
  tearAfterLoadBytes: number | null = null;

  constructor(
    readonly capacity: number,
    private readonly keys: StaticKeys = TEST_KEYS,
  ) {}

  get used(): number {
    return this.loadFiles.reduce((n, f) => n + f.size, 0) + (this.pending?.bytes ?? 0);
  }

  /** Power off, reset, removal or selecting another application: the channel and any load end. */
  deselect(): void {
    this.selected = false;
    this.session = null;
    this.pending = null;
  }

  select(aid: Buffer): GpReply | null {
    if (!aid.equals(ISD_AID)) return null;
    this.deselect();
    this.selected = true;
    // FCI: 6F { 84 AID, A5 { 9F6E … } } kept minimal: the AID is what hosts check.
    return { data: Buffer.concat([Buffer.from([0x6f, ISD_AID.length + 2, 0x84, ISD_AID.length]), ISD_AID]), sw: 0x9000 };
  }

  process(cmd: CommandApdu): GpReply | typeof TORN {
    if (!this.selected) return reply(0x6d00);
    const data = Buffer.from(cmd.data ?? []);
    if (cmd.ins === INS.INITIALIZE_UPDATE && cmd.cla === 0x80) return this.initializeUpdate(cmd, data);
    // Everything else needs C-MAC (CLA 84) once the channel is open; without a channel: 6982.
    const s = this.session;
    if (!s || (cmd.cla & 0x04) === 0 || data.length < 8) {
      this.session = null;
      return reply(0x6982);
    }
    const body = data.subarray(0, data.length - 8);
    const expected = s.mac.next(cmd.cla & ~0x04, cmd.ins, cmd.p1, cmd.p2, body);
    if (!crypto.timingSafeEqual(expected, data.subarray(data.length - 8))) {
      this.session = null;
      return reply(0x6982);
    }
    if (cmd.ins === INS.EXTERNAL_AUTHENTICATE) return this.externalAuthenticate(cmd, body);
    if (!s.authenticated) return reply(0x6982);
    switch (cmd.ins) {
      case INS.INSTALL: return this.install(cmd, body);
      case INS.LOAD: return this.load(cmd, body);
      case INS.GET_STATUS: return this.getStatus(cmd);
      case INS.DELETE: return this.delete(body);
      default: return reply(0x6d00);
    }
  }

  private initializeUpdate(cmd: CommandApdu, hostChallenge: Buffer): GpReply {
    if (hostChallenge.length !== 8) return reply(0x6700);
    if (cmd.p1 !== 0x00 && cmd.p1 !== 0x01) return reply(0x6a88); // key version 0 = "any", our keys are version 1
    const seqCounter = Buffer.from([(this.seq >> 8) & 0xff, this.seq & 0xff]);
    this.seq++;
    const cardChallenge = crypto.randomBytes(6);
    const keys = deriveSessionKeys(this.keys, seqCounter);
    this.session = { keys, hostChallenge, cardChallenge, seqCounter, authenticated: false, mac: new CMac(keys.mac) };
    const out = Buffer.concat([Buffer.alloc(10, 0x11), Buffer.from([0x01, 0x02]), seqCounter, cardChallenge, cardCryptogram(keys, hostChallenge, seqCounter, cardChallenge)]);
    return { data: out, sw: 0x9000 };
  }

  private externalAuthenticate(cmd: CommandApdu, cryptogram: Buffer): GpReply {
    const s = this.session!;
    if (s.authenticated || cryptogram.length !== 8) return reply(0x6985);
    if (cmd.p1 !== 0x01) {
      this.session = null;
      return reply(0x6a86); // only C-MAC is offered
    }
    if (!cryptogram.equals(hostCryptogram(s.keys, s.hostChallenge, s.seqCounter, s.cardChallenge))) {
      this.session = null;
      return reply(0x6300);
    }
    s.authenticated = true;
    return reply(0x9000);
  }

  private install(cmd: CommandApdu, data: Buffer): GpReply {
    const fields = splitLv(data);
    if (!fields) return reply(0x6a80);
    if (cmd.p1 === INSTALL_FOR_LOAD) {
      const [aid, , , params] = fields;
      if (fields.length !== 5 || aid.length < 5) return reply(0x6a80);
      if (this.loadFiles.some((f) => f.aid.equals(aid))) return reply(0x6985); // already loaded: DELETE first
      const declared = codeSize(params);
      if (this.used + declared > this.capacity) return reply(0x6a84);
      this.pending = { aid, declared, nextBlock: 0, received: [], bytes: 0 };
      return { data: Buffer.from([0x00]), sw: 0x9000 };
    }
    if (cmd.p1 === INSTALL_FOR_INSTALL_AND_SELECTABLE) {
      const [lf, module, instance] = fields;
      if (fields.length !== 6) return reply(0x6a80);
      const file = this.loadFiles.find((f) => f.aid.equals(lf));
      if (!file) return reply(0x6a88);
      if (file.modules && !file.modules.some((m) => m.equals(module))) return reply(0x6a88);
      if (this.instances.some((i) => i.aid.equals(instance)) || instance.equals(ISD_AID)) return reply(0x6985);
      this.instances.push({ aid: instance, loadFile: lf, module });
      return { data: Buffer.from([0x00]), sw: 0x9000 };
    }
    return reply(0x6a86);
  }

  private load(cmd: CommandApdu, block: Buffer): GpReply | typeof TORN {
    const p = this.pending;
    if (!p) return reply(0x6985); // no INSTALL [for load] before
    if (cmd.p2 !== p.nextBlock) return reply(0x6a86); // blocks must come in sequence
    if (this.used + block.length > this.capacity) {
      this.pending = null;
      return reply(0x6a84);
    }
    if (this.tearAfterLoadBytes !== null) {
      if (this.tearAfterLoadBytes <= block.length) {
        this.tearAfterLoadBytes = null;
        return TORN;
      }
      this.tearAfterLoadBytes -= block.length;
    }
    p.received.push(block);
    p.bytes += block.length;
    p.nextBlock++;
    if (cmd.p1 === 0x00) return reply(0x9000);
    if (cmd.p1 !== 0x80) return reply(0x6a86);
    this.pending = null;
    const lfdb = Buffer.concat(p.received);
    const tlvs = (() => {
      try {
        return parseTlvs(lfdb);
      } catch {
        return null;
      }
    })();
    const c4 = tlvs?.find((t) => t.tag === 0xc4);
    if (!c4) return reply(0x6a80);
    const modules = packageModules(c4.value);
    this.loadFiles.push({ aid: p.aid, size: lfdb.length, modules });
    return reply(0x9000);
  }

  private getStatus(cmd: CommandApdu): GpReply {
    let entries: StatusEntry[];
    if (cmd.p1 === GET_STATUS_APPS) entries = [{ aid: ISD_AID, lifeCycle: 0x0f, privileges: Buffer.from([0x9e]) }, ...this.instances.map((i) => ({ aid: i.aid, lifeCycle: LIFE_CYCLE.SELECTABLE, privileges: Buffer.from([0x00]) }))];
    else if (cmd.p1 === GET_STATUS_LOAD_FILES) entries = this.loadFiles.map((f) => ({ aid: f.aid, lifeCycle: LIFE_CYCLE.LOADED, privileges: Buffer.alloc(0) }));
    else return reply(0x6a86);
    if ((cmd.p2 & 0x02) === 0) return reply(0x6a86); // only the TLV format
    if (entries.length === 0) return reply(0x6a88);
    return { data: Buffer.concat(entries.map(encodeStatusEntry)), sw: 0x9000 };
  }

  private delete(data: Buffer): GpReply {
    const aid = (() => {
      try {
        return parseTlvs(data).find((t) => t.tag === 0x4f)?.value;
      } catch {
        return undefined;
      }
    })();
    if (!aid) return reply(0x6a80);
    const fi = this.loadFiles.findIndex((f) => f.aid.equals(aid));
    if (fi >= 0) {
      for (let i = this.instances.length - 1; i >= 0; i--) if (this.instances[i].loadFile.equals(aid)) this.instances.splice(i, 1);
      this.loadFiles.splice(fi, 1);
      return { data: Buffer.from([0x00]), sw: 0x9000 };
    }
    const ii = this.instances.findIndex((i) => i.aid.equals(aid));
    if (ii < 0) return reply(0x6a88);
    this.instances.splice(ii, 1);
    return { data: Buffer.from([0x00]), sw: 0x9000 };
  }
}

function reply(sw: number): GpReply {
  return { data: Buffer.alloc(0), sw };
}

/** Splits consecutive length-value fields; null if they overrun. */
function splitLv(b: Buffer): Buffer[] | null {
  const out: Buffer[] = [];
  let i = 0;
  while (i < b.length) {
    const n = b[i++];
    if (i + n > b.length) return null;
    out.push(b.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** C6 (non-volatile code space) from the INSTALL [for load] parameters EF { C6 … }; 0 if absent. */
function codeSize(params: Buffer): number {
  try {
    const ef = parseTlvs(params).find((t) => t.tag === 0xef);
    const c6 = ef && parseTlvs(ef.value).find((t) => t.tag === 0xc6);
    return c6 ? c6.value.reduce((n, b) => n * 256 + b, 0) : 0;
  } catch {
    return 0;
  }
}

/**
 * The module (applet class) AIDs a package declares, if it uses this project's test header
 * "ICRPKG1" ‖ count ‖ (len ‖ AID)*; null for anything else. A real Java Card would parse the
 * Applet component of the CAP file; this model does not, so for an opaque file (an issuer's CAP
 * or binary package) it takes any module AID the host names.
 */
export function packageModules(pkg: Buffer): Buffer[] | null {
  const magic = Buffer.from('ICRPKG1');
  if (pkg.length < magic.length + 1 || !pkg.subarray(0, magic.length).equals(magic)) return null;
  const count = pkg[magic.length];
  const out: Buffer[] = [];
  let i = magic.length + 1;
  for (let k = 0; k < count; k++) {
    const n = pkg[i++];
    if (n === undefined || i + n > pkg.length) return null;
    out.push(Buffer.from(pkg.subarray(i, i + n)));
    i += n;
  }
  return out;
}
