/**
 * Units without the stack: PIN rules and the scrypt hash; the card face renderer printing the
 * holder's photo where the template puts it (what the serial card printer downloads).
 */
import { hashPin, parsePinHash, verifyPin } from '../../lib/pin-hash';
import { pinProblem, triesLeft, MAX_PIN_FAILURES } from '../../domain/users';
import { renderFacePixels } from '../../terminal-worker/drivers/face-renderer';
import { photoPng } from './support';

test('PIN rules: 4-8 digits, not one digit repeated, not a run', () => {
  for (const ok of ['4826', '70319', '12345670', '0192', '9081']) expect(pinProblem(ok)).toBeNull();
  expect(pinProblem('123')).toMatch(/4 to 8 digits/);
  expect(pinProblem('123456789')).toMatch(/4 to 8 digits/);
  expect(pinProblem('12a4')).toMatch(/4 to 8 digits/);
  expect(pinProblem(' 4826')).toMatch(/4 to 8 digits/);
  expect(pinProblem(4826)).toMatch(/4 to 8 digits/);
  expect(pinProblem('0000')).toMatch(/repeated/);
  expect(pinProblem('1234')).toMatch(/consecutive/);
  expect(pinProblem('98765')).toMatch(/consecutive/);
  expect(MAX_PIN_FAILURES).toBe(5);
  expect([0, 1, 4, 5, 7].map(triesLeft)).toEqual([5, 4, 1, 0, 0]);
});

test('scrypt hash: salted (two hashes of one PIN differ), self-describing, verifies only the right PIN', async () => {
  const a = await hashPin('4826');
  const b = await hashPin('4826');
  expect(a).not.toBe(b);
  expect(a).not.toContain('4826');
  const parsed = parsePinHash(a);
  expect(parsed.params).toEqual({ N: 32768, r: 8, p: 1 });
  expect(parsed.salt).toHaveLength(16);
  expect(parsed.key).toHaveLength(32);
  expect(await verifyPin('4826', a)).toBe(true);
  expect(await verifyPin('4827', a)).toBe(false);
  expect(await verifyPin('48260', a)).toBe(false);
  // Parameters travel with the hash: a cheaper one (an older policy) still verifies.
  const cheap = await hashPin('4826', { N: 1024, r: 8, p: 1 });
  expect(cheap).toMatch(/^scrypt\$N=1024,r=8,p=1\$/);
  expect(await verifyPin('4826', cheap)).toBe(true);
  expect(() => parsePinHash('4826')).toThrow(/not a scrypt PIN hash/);
});

test("the face renderer prints the holder's photo in the photo box at the right, and nothing there without it", () => {
  const face = { title: 'Kanto Railway student pass', lines: ['Kokubunji ⇄ Shinjuku', '1 month', 'Holder: Hanako Yamada'], imageUrl: null, cardId: 'C0123456789AB' };
  const pixel = (png: ReturnType<typeof renderFacePixels>, x: number, y: number) => [...png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 3)];
  const withPhoto = renderFacePixels(face, { photo: photoPng([30, 90, 200], 60, 80) });
  // The photo box is 180 × 240 at (800, 180); a 60 × 80 photo scales to fill it.
  expect(pixel(withPhoto, 890, 300)).toEqual([30, 90, 200]);
  expect(pixel(withPhoto, 805, 185)).toEqual([30, 90, 200]);
  expect(pixel(withPhoto, 797, 177)).toEqual([200, 200, 200]); // its frame
  const without = renderFacePixels(face);
  expect(pixel(without, 890, 300)).toEqual([255, 255, 255]);
});
