/**
 * Face images (PNG/JPEG: magic bytes, full decode, declared type, size limits), face templates,
 * and CPU card application packages (SHA-256 verified, immutable versions). Every refusal leaves
 * the database as it was.
 */
import { createHash } from 'node:crypto';
import { A, expectError, fingerprint, jpegBytes, pngBytes, startIssuerApi, type IssuerApiHarness } from './support';

let h: IssuerApiHarness;
beforeAll(async () => {
  h = await startIssuerApi();
});
afterAll(async () => {
  await h?.stop();
});

const upload = (bytes: Buffer, contentType: string, name = 'face') => h.call(A, 'POST', `/issuer/images?name=${name}`, undefined, { raw: bytes, contentType });

test('PNG and JPEG faces are stored with their size and hash, and served back byte for byte', async () => {
  const png = pngBytes(120, 76);
  const res = await upload(png, 'image/png');
  expect(res.status).toBe(201);
  expect(res.body).toMatchObject({ name: 'face', contentType: 'image/png', byteSize: png.length, width: 120, height: 76, sha256: createHash('sha256').update(png).digest('hex') });
  const back = await h.call(A, 'GET', `/issuer/images/${res.body.id}/content`);
  expect(back.headers.get('content-type')).toBe('image/png');
  expect(back.bytes.equals(png)).toBe(true);
  // The kiosk serves it too (public face images).
  expect(Buffer.from(await (await fetch(`${h.url}${res.body.url}`)).arrayBuffer()).equals(png)).toBe(true);

  const jpeg = await upload(jpegBytes(300, 200), 'image/jpeg', 'photo');
  expect(jpeg.status).toBe(201);
  expect(jpeg.body).toMatchObject({ contentType: 'image/jpeg', width: 300, height: 200 });
  const listed = (await h.call(A, 'GET', '/issuer/images')).body.images.map((i: any) => i.id);
  expect(listed).toEqual(expect.arrayContaining([res.body.id, jpeg.body.id]));
});

test('images that are not what they claim, or too big, are refused and nothing is stored', async () => {
  const before = await fingerprint(h.db);
  const png = pngBytes(64, 64);
  expectError(await upload(png, 'image/jpeg'), 422, 'type_mismatch', /image\/png but was sent as image\/jpeg/);
  expectError(await upload(jpegBytes(), 'image/png'), 422, 'type_mismatch');
  expectError(await upload(Buffer.from('GIF89a-not-allowed-here'), 'image/png'), 422, 'not_an_image');
  expectError(await upload(Buffer.concat([png.subarray(0, 8), Buffer.from('garbage-after-the-signature')]), 'image/png'), 422, 'invalid_image');
  const corrupt = Buffer.from(png);
  corrupt[corrupt.length - 20] ^= 0xff; // breaks a chunk's CRC or its compressed data
  expectError(await upload(corrupt, 'image/png'), 422, 'invalid_image');
  expectError(await upload(png.subarray(0, png.length - 12), 'image/png'), 422, 'invalid_image'); // no IEND
  expectError(await upload(jpegBytes().subarray(0, 40), 'image/jpeg'), 422, 'invalid_image'); // truncated
  expectError(await upload(pngBytes(8, 8), 'image/png'), 422, 'image_size', /8×8/);
  expectError(await upload(jpegBytes(5000, 100), 'image/jpeg'), 422, 'image_size');
  expectError(await upload(Buffer.alloc(0), 'image/png'), 422, 'empty_body');
  expectError(await upload(png, 'image/gif'), 415, 'unsupported_media_type');
  expectError(await h.call(A, 'POST', '/issuer/images', undefined, { raw: png }), 415, 'unsupported_media_type');
  expectError(await upload(Buffer.alloc(2 * 1024 * 1024 + 1, 1), 'image/png'), 413, 'too_large');
  expect(await fingerprint(h.db)).toEqual(before);
});

test('face templates: PNG only (the printer renders PNG), products follow their template', async () => {
  const png = (await upload(pngBytes(100, 60), 'image/png')).body;
  const jpeg = (await upload(jpegBytes(100, 60), 'image/jpeg')).body;
  expectError(await h.call(A, 'POST', '/issuer/face-templates', { name: 'JPEG face', imageId: jpeg.id }), 422, 'face_needs_png');
  const t = await h.call(A, 'POST', '/issuer/face-templates', { name: 'Gala', imageId: png.id, holderPhoto: true });
  expect(t.status).toBe(201);
  expect(t.body).toMatchObject({ name: 'Gala', imageId: png.id, holderPhoto: true, productIds: [] });
  const products = (await h.call(A, 'GET', '/issuer/products')).body.products;
  const p = products[0];
  const updated = await h.call(A, 'PATCH', `/issuer/products/${p.id}`, { faceTemplateId: t.body.id });
  expect(updated.body).toMatchObject({ faceTemplateId: t.body.id, faceImageId: png.id });
  expect((await h.call(A, 'GET', `/issuer/face-templates/${t.body.id}`)).body.productIds).toEqual([p.id]);
  const png2 = (await upload(pngBytes(100, 61), 'image/png')).body;
  await h.call(A, 'PATCH', `/issuer/face-templates/${t.body.id}`, { imageId: png2.id });
  expect((await fetch(`${h.url}/api/products/${p.id}`).then((r) => r.json())).faceImage).toBe(`/api/images/${png2.id}`);
  // The old image is still there, unchanged (a printed face can be found again).
  expect((await h.call(A, 'GET', `/issuer/images/${png.id}`)).body.sha256).toBe(png.sha256);
});

test('application packages: the SHA-256 is verified, versions are immutable, re-uploads are harmless', async () => {
  const cap = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.from('Header.cap Applet.cap … a Java Card CAP file, zipped')]);
  const sha = createHash('sha256').update(cap).digest('hex');
  const q = (over: Record<string, string> = {}) => new URLSearchParams({ name: 'transit-purse', version: '1.2.0', aid: 'A0000000041010', format: 'javacard-cap', sha256: sha, ...over }).toString();
  const send = (query: string, bytes = cap, contentType = 'application/octet-stream') => h.call(A, 'POST', `/issuer/application-packages?${query}`, undefined, { raw: bytes, contentType });

  const before = await fingerprint(h.db);
  expectError(await send(q({ sha256: 'f'.repeat(64) })), 422, 'checksum_mismatch', new RegExp(sha));
  expectError(await send(q({ sha256: 'F'.repeat(64) })), 400, 'invalid_input', /sha256/);
  expectError(await send(q({ aid: 'A000' })), 400, 'invalid_input', /AID/);
  const notZip = Buffer.from('not a zip archive');
  expectError(await send(q({ sha256: createHash('sha256').update(notZip).digest('hex') }), notZip), 422, 'invalid_package');
  expectError(await send(q(), cap, 'text/plain'), 415, 'unsupported_media_type');
  expect(await fingerprint(h.db)).toEqual(before);

  const first = await send(q());
  expect(first.status).toBe(201);
  expect(first.body).toMatchObject({ name: 'transit-purse', version: '1.2.0', aid: 'A0000000041010', byteSize: cap.length, sha256: sha });
  const again = await send(q());
  expect(again.status).toBe(200);
  expect(again.body.id).toBe(first.body.id);
  const other = Buffer.concat([cap, Buffer.from('!')]);
  expectError(await send(q({ sha256: createHash('sha256').update(other).digest('hex') }), other), 409, 'version_exists');

  const content = await h.call(A, 'GET', `/issuer/application-packages/${first.body.id}/content`);
  expect(content.bytes.equals(cap)).toBe(true);
  expect(content.headers.get('etag')).toBe(`"${sha}"`);

  const products = (await h.call(A, 'GET', '/issuer/products')).body.products;
  const withApp = await h.call(A, 'PATCH', `/issuer/products/${products[0].id}`, { applicationPackageIds: [first.body.id] });
  expect(withApp.body.applicationPackageIds).toEqual([first.body.id]);
  expectError(await h.call(A, 'PATCH', `/issuer/products/${products[0].id}`, { applicationPackageIds: [first.body.id, first.body.id] }), 400, 'invalid_input');
  expectError(await h.call(A, 'PATCH', `/issuer/products/${products[0].id}`, { applicationPackageIds: [999999] }), 404, 'not_found');
});
