/**
 * Host side of a GlobalPlatform SCP02 secure channel (C-MAC only, security level 01) with the
 * card's Issuer Security Domain over a PC/SC session:
 *   SELECT ISD → INITIALIZE UPDATE (host challenge) → check the card cryptogram →
 *   EXTERNAL AUTHENTICATE (host cryptogram + C-MAC); then every command goes as CLA 84 + C-MAC.
 */
import crypto from 'node:crypto';
import { hex, swHex, type CommandApdu, type ResponseApdu } from './apdu';
import { ISD_AID, externalAuthenticate, initializeUpdate, parseInitializeUpdate, selectIsd } from './globalplatform';
import type { PcscSession } from './pcsc-session';
import { CMac, TEST_KEYS, cardCryptogram, deriveSessionKeys, hostCryptogram, type StaticKeys } from './scp02';
import { ChipError, statusWordError } from './status-words';

export const CMAC_LENGTH = 8;

export class GpSecureChannel {
  private constructor(
    private readonly session: PcscSession,
    private readonly mac: CMac,
  ) {}

  static async open(session: PcscSession, keys: StaticKeys = TEST_KEYS, isdAid: Buffer = ISD_AID): Promise<GpSecureChannel> {
    const sel = await session.transmit(selectIsd(isdAid));
    if (sel.sw !== 0x9000) throw statusWordError(sel.sw, `SELECT of the Issuer Security Domain ${hex(isdAid)}`);
    const hostChallenge = crypto.randomBytes(8);
    const iu = await session.transmit(initializeUpdate(hostChallenge));
    if (iu.sw !== 0x9000) throw statusWordError(iu.sw, 'INITIALIZE UPDATE');
    let r;
    try {
      r = parseInitializeUpdate(iu.data);
    } catch (err) {
      throw new ChipError('SECURE_CHANNEL', (err as Error).message);
    }
    if (r.scp !== 0x02) throw new ChipError('SECURE_CHANNEL', `the card offers SCP${r.scp.toString(16).padStart(2, '0')}, this driver speaks SCP02`);
    const s = deriveSessionKeys(keys, r.sequenceCounter);
    if (!cardCryptogram(s, hostChallenge, r.sequenceCounter, r.cardChallenge).equals(r.cardCryptogram)) {
      throw new ChipError('SECURE_CHANNEL', `the card cryptogram does not match: the card's keys (version ${r.keyVersion}) are not the ones configured`);
    }
    const channel = new GpSecureChannel(session, new CMac(s.mac));
    const ea = await channel.send(externalAuthenticate(hostCryptogram(s, hostChallenge, r.sequenceCounter, r.cardChallenge)));
    if (ea.sw !== 0x9000) throw new ChipError('SECURE_CHANNEL', `EXTERNAL AUTHENTICATE refused with ${swHex(ea.sw)}`, { sw: ea.sw });
    return channel;
  }

  /** Sends `cmd` (CLA 80) as CLA 84 with its C-MAC appended; the data must leave room for the MAC. */
  send(cmd: CommandApdu): Promise<ResponseApdu> {
    const data = Buffer.from(cmd.data ?? []);
    const mac = this.mac.next(cmd.cla, cmd.ins, cmd.p1, cmd.p2, data);
    return this.session.transmit({ ...cmd, cla: cmd.cla | 0x04, data: Buffer.concat([data, mac]) });
  }
}
