/**
 * Installs an issuer's application package on a CPU card with the GlobalPlatform flow, over a
 * PC/SC session and an SCP02 C-MAC secure channel with the card's Issuer Security Domain:
 *
 *   (SHA-256 of the bytes checked first: nothing is sent for a damaged package)
 *   SELECT ISD → INITIALIZE UPDATE → EXTERNAL AUTHENTICATE
 *   GET STATUS (applications)  — instance already there: done, nothing else is sent
 *   GET STATUS (load files)    — package there without the instance (an earlier run torn after
 *                                LOAD): DELETE it with its related objects, then load again
 *   INSTALL [for load] → LOAD 00..n (last with P1 80) → INSTALL [for install and make selectable]
 *   GET STATUS (applications)  — the instance must now be listed
 *
 * A card pulled out mid-LOAD surfaces as ChipError CARD_REMOVED; the card drops the partial load
 * (or keeps it as a load file, which the next run deletes), so calling `install` again on the
 * reinserted card restarts cleanly. A full card answers 6A84: ChipError CARD_MEMORY_TOO_SMALL.
 */
import crypto from 'node:crypto';
import { MAX_SHORT_DATA, hex, type CommandApdu } from './apdu';
import { GET_STATUS_APPS, GET_STATUS_LOAD_FILES, deleteAid, getStatus, installForInstall, installForLoad, loadCommands, parseGetStatus, tlv, type StatusEntry } from './globalplatform';
import { CMAC_LENGTH, GpSecureChannel } from './gp-secure-channel';
import type { PcscSession } from './pcsc-session';
import { TEST_KEYS, type StaticKeys } from './scp02';
import { ChipError, statusWordError } from './status-words';

export interface ApplicationPackage {
  bytes: Buffer;
  /** SHA-256 of `bytes` as the issuer API stored it (64 hex digits). */
  sha256: string;
  /** Load file (package) AID, the module (applet class) AID in it, and the instance AID to create. */
  packageAid: Buffer;
  moduleAid: Buffer;
  instanceAid: Buffer;
  /** Install parameters for the instance (C9 value); empty by default. */
  installParams?: Buffer;
}

export interface InstallOptions {
  /** Largest command data the reader takes (≤ 255); LOAD blocks are this minus the C-MAC. */
  maxCommandData?: number;
  /** The card's ISD static keys; default: GlobalPlatform's test key 40..4F (test cards only). */
  keys?: StaticKeys;
  onProgress?: (fraction: number) => void;
}

export interface InstallResult {
  /** false: GET STATUS already listed the instance, nothing was changed. */
  installed: boolean;
  /** A load file of this package without its instance was found and deleted before loading. */
  deletedStaleLoadFile: boolean;
  loadBlocks: number;
  /** Application instance AIDs (hex) GET STATUS lists afterwards (the ISD excluded). */
  applications: string[];
}

export function checkPackage(pkg: ApplicationPackage): void {
  const actual = crypto.createHash('sha256').update(pkg.bytes).digest('hex');
  if (actual !== pkg.sha256.toLowerCase()) {
    throw new ChipError('PACKAGE_CHECKSUM', `package ${hex(pkg.packageAid)} has SHA-256 ${actual}, not the issuer's ${pkg.sha256}: the bytes are damaged or not the uploaded package; nothing was sent to the card`);
  }
}

export async function installApplication(session: PcscSession, pkg: ApplicationPackage, opts: InstallOptions = {}): Promise<InstallResult> {
  checkPackage(pkg);
  const maxData = Math.min(opts.maxCommandData ?? MAX_SHORT_DATA, MAX_SHORT_DATA);
  const channel = await GpSecureChannel.open(session, opts.keys ?? TEST_KEYS);
  const send = async (cmd: CommandApdu, what: string) => {
    const r = await channel.send(cmd);
    if (r.sw !== 0x9000) throw statusWordError(r.sw, what);
    return r;
  };

  const apps = await listStatus(channel, GET_STATUS_APPS);
  if (apps.some((a) => a.aid.equals(pkg.instanceAid))) return { installed: false, deletedStaleLoadFile: false, loadBlocks: 0, applications: applicationIds(apps) };

  let deletedStaleLoadFile = false;
  const files = await listStatus(channel, GET_STATUS_LOAD_FILES);
  if (files.some((f) => f.aid.equals(pkg.packageAid))) {
    await send(deleteAid(pkg.packageAid, true), `DELETE of the stale load file ${hex(pkg.packageAid)}`);
    deletedStaleLoadFile = true;
  }

  const lfdbLength = tlv(0xc4, pkg.bytes).length;
  await send(installForLoad(pkg.packageAid, lfdbLength), `INSTALL [for load] of ${hex(pkg.packageAid)}`);
  const blocks = loadCommands(pkg.bytes, maxData - CMAC_LENGTH);
  for (const block of blocks) {
    await send(block, `LOAD block ${block.p2} of ${blocks.length}`);
    opts.onProgress?.((block.p2 + 1) / blocks.length);
  }
  await send(installForInstall(pkg.packageAid, pkg.moduleAid, pkg.instanceAid, pkg.installParams), `INSTALL [for install and make selectable] of ${hex(pkg.instanceAid)}`);

  const after = await listStatus(channel, GET_STATUS_APPS);
  if (!after.some((a) => a.aid.equals(pkg.instanceAid))) throw new ChipError('VERIFY_MISMATCH', `the card accepted the installation but GET STATUS does not list ${hex(pkg.instanceAid)}`);
  return { installed: true, deletedStaleLoadFile, loadBlocks: blocks.length, applications: applicationIds(after) };
}

/** Lists installed applications (hex AIDs, the ISD excluded) over a fresh secure channel. */
export async function listApplications(session: PcscSession, keys: StaticKeys = TEST_KEYS): Promise<string[]> {
  const channel = await GpSecureChannel.open(session, keys);
  return applicationIds(await listStatus(channel, GET_STATUS_APPS));
}

/** GET STATUS for one kind of object; 6A88 means "none"; 6310 means more follow (GET STATUS next). */
async function listStatus(channel: GpSecureChannel, p1: number): Promise<StatusEntry[]> {
  const out: StatusEntry[] = [];
  let next = false;
  for (;;) {
    const r = await channel.send(getStatus(p1, next));
    if (r.sw === 0x6a88) return out;
    if (r.sw !== 0x9000 && r.sw !== 0x6310) throw statusWordError(r.sw, `GET STATUS P1=${p1.toString(16)}`);
    try {
      out.push(...parseGetStatus(r.data));
    } catch (err) {
      throw new ChipError('STATUS_WORD', `GET STATUS answer unreadable: ${(err as Error).message}`);
    }
    if (r.sw === 0x9000) return out;
    next = true;
  }
}

function applicationIds(entries: StatusEntry[]): string[] {
  // The ISD carries the Security Domain privilege (bit 8 of the first privilege byte).
  return entries.filter((e) => ((e.privileges[0] ?? 0) & 0x80) === 0).map((e) => hex(e.aid));
}
