/** The GlobalPlatform AIDs of an install, from the package's one AID (domain/applications.ts). */
import { installAids, isApplicationRef } from '../../domain/applications';

test('instance and module are the application AID; the load file AID is its own', () => {
  expect(installAids('a000000476544b01')).toEqual({ packageAid: 'A000000476544B014C', moduleAid: 'A000000476544B01', instanceAid: 'A000000476544B01' });
  // 16 bytes: no room to append, the last byte is inverted instead.
  const long = 'A0000004765449435201020304050607';
  expect(installAids(long).packageAid).toBe('A00000047654494352010203040506F8');
  expect(installAids(long).packageAid).toHaveLength(32);
});

test('two applications never share a load file AID', () => {
  const a = installAids('A000000476544B01').packageAid;
  const b = installAids('A000000476544B02').packageAid;
  expect(a).not.toBe(b);
  expect(a).not.toBe('A000000476544B01');
});

test('not an AID: refused', () => {
  expect(() => installAids('A0')).toThrow(/not an AID/);
  expect(() => installAids('ZZ00000476')).toThrow(/not an AID/);
  expect(isApplicationRef({ packageId: 1, aid: 'A000000476544B01', sha256: 'a'.repeat(64), name: 'x', version: '1' })).toBe(true);
  expect(isApplicationRef({ packageId: 0, aid: 'A000000476544B01', sha256: 'a'.repeat(64) })).toBe(false);
  expect(isApplicationRef({ packageId: 1, aid: 'A000000476544B01', sha256: 'A'.repeat(64) })).toBe(false);
});
