/**
 * GlobalPlatform APDU builders, TLV parsing, SCP02 key derivation, and the virtual card's card
 * manager driven directly (no PC/SC): block order, memory accounting, C-MAC checks.
 */
import crypto from 'node:crypto';
import { decodeCommand, encodeCommand, type CommandApdu } from '../../terminal-worker/drivers/apdu';
import {
  ISD_AID, berLength, deleteAid, encodeStatusEntry, getStatus, installForInstall, installForLoad, loadCommands, parseGetStatus,
  parseInitializeUpdate, parseTlvs, selectIsd, tlv, initializeUpdate, externalAuthenticate,
} from '../../terminal-worker/drivers/globalplatform';
import { CMac, TEST_KEYS, deriveSessionKeys, hostCryptogram, pad80 } from '../../terminal-worker/drivers/scp02';
import { CardManager, TORN, type GpReply } from '../../terminal-worker/simulators/virtual-card/card-manager';

const PKG_AID = Buffer.from('A00000047649435201', 'hex');
const MOD_AID = Buffer.from('A0000004764943520100', 'hex');
const APP_AID = Buffer.from('A0000004764943520101', 'hex');
const bytes = (c: CommandApdu) => encodeCommand(c).toString('hex').toUpperCase();

describe('GlobalPlatform APDU builders', () => {
  test('SELECT ISD, INITIALIZE UPDATE, EXTERNAL AUTHENTICATE', () => {
    expect(bytes(selectIsd())).toBe('00A4040008A00000015100000000');
    expect(bytes(initializeUpdate(Buffer.from('0102030405060708', 'hex')))).toBe('80500000080102030405060708' + '00');
    expect(bytes(externalAuthenticate(Buffer.alloc(8, 0xaa)))).toBe('8082010008AAAAAAAAAAAAAAAA');
  });

  test('INSTALL [for load]: LV fields and the C6 code size in EF', () => {
    expect(bytes(installForLoad(PKG_AID, 0x1234))).toBe('80E602001409A00000047649435201' + '00' + '00' + '06EF04C6021234' + '00' + '00');
    // Sizes above 64 KiB take four bytes.
    expect(bytes(installForLoad(PKG_AID, 0x012345))).toContain('08EF06C60400012345');
  });

  test('INSTALL [for install and make selectable]: P1 0C, privileges 00, C9 parameters', () => {
    expect(bytes(installForInstall(PKG_AID, MOD_AID, APP_AID, Buffer.from([0x01])))).toBe(
      '80E60C002709A000000476494352010AA00000047649435201000AA000000476494352010101000' + '3C90101' + '00' + '00',
    );
  });

  test('LOAD: C4 block split by the block size, P1 80 on the last, P2 the block number', () => {
    const pkg = Buffer.alloc(300, 0x5a);
    const cmds = loadCommands(pkg, 100);
    const lfdb = Buffer.concat(cmds.map((c) => Buffer.from(c.data!)));
    expect(lfdb.subarray(0, 4).toString('hex')).toBe('c482012c'); // C4, length 300 in the 82 form
    expect(lfdb.subarray(4).equals(pkg)).toBe(true);
    expect(cmds.map((c) => [c.p1, c.p2, c.data!.length])).toEqual([[0, 0, 100], [0, 1, 100], [0, 2, 100], [0x80, 3, 4]]);
    expect(() => loadCommands(Buffer.alloc(256 * 10), 9)).toThrow(/256/);
    expect(() => loadCommands(pkg, 256)).toThrow(RangeError);
  });

  test('GET STATUS and DELETE', () => {
    expect(bytes(getStatus(0x40))).toBe('80F24002024F0000');
    expect(bytes(getStatus(0x20, true))).toBe('80F22003024F0000');
    expect(bytes(deleteAid(PKG_AID))).toBe('80E400800B4F09A0000004764943520100');
  });
});

describe('TLV', () => {
  test('lengths in the short, 81 and 82 forms', () => {
    expect(berLength(0x7f).toString('hex')).toBe('7f');
    expect(berLength(0x80).toString('hex')).toBe('8180');
    expect(berLength(0x1234).toString('hex')).toBe('821234');
    const big = tlv(0xc4, Buffer.alloc(300, 1));
    expect(parseTlvs(big)).toEqual([{ tag: 0xc4, value: Buffer.alloc(300, 1) }]);
  });

  test('two-byte tags, and truncation is an error', () => {
    expect(parseTlvs(Buffer.from('9F700107C500', 'hex'))).toEqual([{ tag: 0x9f70, value: Buffer.from([7]) }, { tag: 0xc5, value: Buffer.alloc(0) }]);
    expect(() => parseTlvs(Buffer.from('4F05A000', 'hex'))).toThrow(/truncated/);
    expect(() => parseTlvs(Buffer.from('9F', 'hex'))).toThrow(/truncated/);
  });

  test('GET STATUS response round trip', () => {
    const entries = [
      { aid: ISD_AID, lifeCycle: 0x0f, privileges: Buffer.from([0x9e]) },
      { aid: APP_AID, lifeCycle: 0x07, privileges: Buffer.from([0x00]) },
    ];
    const raw = Buffer.concat(entries.map(encodeStatusEntry));
    expect(raw.subarray(0, 2).toString('hex')).toBe('e311');
    expect(parseGetStatus(raw)).toEqual(entries);
    expect(() => parseGetStatus(Buffer.from('4F00', 'hex'))).toThrow(/E3/);
  });

  test('INITIALIZE UPDATE response fields', () => {
    const r = parseInitializeUpdate(Buffer.from('11111111111111111111' + '0102' + '000A' + 'AABBCCDDEEFF' + '0102030405060708', 'hex'));
    expect(r).toMatchObject({ keyVersion: 1, scp: 2 });
    expect(r.sequenceCounter.toString('hex')).toBe('000a');
    expect(r.cardChallenge.toString('hex')).toBe('aabbccddeeff');
    expect(() => parseInitializeUpdate(Buffer.alloc(27))).toThrow(/28/);
  });
});

describe('SCP02', () => {
  // Published session keys for the GP test key 40..4F (OpenJavaCard's and omfgp's SCP02 tests).
  test('session key derivation matches published vectors', () => {
    const k0 = deriveSessionKeys(TEST_KEYS, Buffer.from('0000', 'hex'));
    expect(k0.enc.toString('hex')).toBe('010b0371d78377b801f2d62afc671d95');
    expect(k0.mac.toString('hex')).toBe('d1c28c601652a4770d67ad82d2d2e1c4');
    expect(k0.dek.toString('hex')).toBe('e11987ee331b417a5d67d760692f89d4');
    const k7 = deriveSessionKeys(TEST_KEYS, Buffer.from('0007', 'hex'));
    expect(k7.mac.toString('hex')).toBe('7a227d376a9dbe23ab50b7dcb45b2093');
    expect(k7.enc.toString('hex')).toBe('a2268f71917efe0f33cc6166e1154e27');
  });

  test('ISO 9797-1 padding method 2', () => {
    expect(pad80(Buffer.alloc(0)).toString('hex')).toBe('8000000000000000');
    expect(pad80(Buffer.alloc(7)).toString('hex')).toBe('0000000000000080');
    expect(pad80(Buffer.alloc(8)).length).toBe(16);
  });

  test('the C-MAC chains: the same command gets a different MAC the second time', () => {
    const mac = new CMac(deriveSessionKeys(TEST_KEYS, Buffer.from('0001', 'hex')).mac);
    const a = mac.next(0x80, 0xf2, 0x40, 0x02, Buffer.from('4F00', 'hex'));
    const b = mac.next(0x80, 0xf2, 0x40, 0x02, Buffer.from('4F00', 'hex'));
    expect(a).toHaveLength(8);
    expect(a.equals(b)).toBe(false);
  });
});

/** A host for the card manager without PC/SC: opens the channel and MACs each command. */
function openChannel(cm: CardManager): (cmd: CommandApdu) => GpReply {
  expect(cm.select(ISD_AID)?.sw).toBe(0x9000);
  const hostChallenge = crypto.randomBytes(8);
  const iu = cm.process(decodeCommand(encodeCommand(initializeUpdate(hostChallenge)))) as GpReply;
  const r = parseInitializeUpdate(iu.data);
  const s = deriveSessionKeys(TEST_KEYS, r.sequenceCounter);
  const mac = new CMac(s.mac);
  const send = (cmd: CommandApdu): GpReply => {
    const data = Buffer.from(cmd.data ?? []);
    const out = cm.process({ ...cmd, cla: cmd.cla | 0x04, data: Buffer.concat([data, mac.next(cmd.cla, cmd.ins, cmd.p1, cmd.p2, data)]) });
    if (out === TORN) throw new Error('torn');
    return out;
  };
  expect(send(externalAuthenticate(hostCryptogram(s, hostChallenge, r.sequenceCounter, r.cardChallenge))).sw).toBe(0x9000);
  return send;
}

describe('virtual card manager', () => {
  const pkg = Buffer.concat([Buffer.from('ICRPKG1'), Buffer.from([1, MOD_AID.length]), MOD_AID, Buffer.alloc(500, 7)]);

  test('commands without the secure channel, or with a bad C-MAC, are refused with 6982', () => {
    const cm = new CardManager(4096);
    cm.select(ISD_AID);
    expect((cm.process(getStatus(0x40)) as GpReply).sw).toBe(0x6982);
    const send = openChannel(cm);
    expect(send(getStatus(0x40)).sw).toBe(0x9000);
    const forged = cm.process({ ...getStatus(0x40), cla: 0x84, data: Buffer.concat([Buffer.from('4F00', 'hex'), Buffer.alloc(8)]) }) as GpReply;
    expect(forged.sw).toBe(0x6982);
    expect(send(getStatus(0x40)).sw).toBe(0x6982); // the channel is closed after a MAC failure
  });

  test('LOAD blocks out of order are refused with 6A86; in order they load', () => {
    const cm = new CardManager(4096);
    const send = openChannel(cm);
    expect(send(installForLoad(PKG_AID, tlv(0xc4, pkg).length)).sw).toBe(0x9000);
    const blocks = loadCommands(pkg, 200);
    expect(send(blocks[0]).sw).toBe(0x9000);
    expect(send(blocks[2]).sw).toBe(0x6a86);
    expect(send(blocks[1]).sw).toBe(0x9000);
    expect(send(blocks[2]).sw).toBe(0x9000);
    expect(send(installForInstall(PKG_AID, MOD_AID, APP_AID)).sw).toBe(0x9000);
    expect(parseGetStatus(send(getStatus(0x40)).data).map((e) => e.aid.toString('hex').toUpperCase())).toEqual([ISD_AID.toString('hex').toUpperCase(), APP_AID.toString('hex').toUpperCase()]);
    expect(cm.used).toBe(tlv(0xc4, pkg).length);
  });

  test('LOAD without INSTALL [for load] is 6985; a module the package does not declare is 6A88', () => {
    const cm = new CardManager(4096);
    const send = openChannel(cm);
    expect(send(loadCommands(pkg, 200)[0]).sw).toBe(0x6985);
    send(installForLoad(PKG_AID, 0));
    for (const b of loadCommands(pkg, 200)) send(b);
    expect(send(installForInstall(PKG_AID, Buffer.from('A000000476FF', 'hex'), APP_AID)).sw).toBe(0x6a88);
  });

  test('memory: a declared size over the free space is 6A84; so is LOAD data beyond it', () => {
    const cm = new CardManager(400);
    const send = openChannel(cm);
    expect(send(installForLoad(PKG_AID, 600)).sw).toBe(0x6a84);
    expect(send(installForLoad(PKG_AID, 0)).sw).toBe(0x9000); // no size declared: counted as it arrives
    const blocks = loadCommands(pkg, 200);
    expect(send(blocks[0]).sw).toBe(0x9000);
    expect(send(blocks[1]).sw).toBe(0x9000);
    expect(send(blocks[2]).sw).toBe(0x6a84);
    expect(cm.used).toBe(0);
  });

  test('DELETE with related objects removes the load file and its instances and frees the space', () => {
    const cm = new CardManager(4096);
    const send = openChannel(cm);
    send(installForLoad(PKG_AID, 0));
    for (const b of loadCommands(pkg, 200)) send(b);
    send(installForInstall(PKG_AID, MOD_AID, APP_AID));
    expect(send(deleteAid(PKG_AID)).sw).toBe(0x9000);
    expect(cm.instances).toEqual([]);
    expect(cm.used).toBe(0);
    expect(send(deleteAid(PKG_AID)).sw).toBe(0x6a88);
  });
});
