/**
 * Card face images and templates, and application packages for CPU cards.
 *
 * Images (PNG or JPEG, at most 2 MiB, 16-4096 pixels a side) are uploaded as the raw body with
 * their content type; the bytes must be what the type says (magic bytes, then a full PNG decode
 * with CRC checks, or a JPEG's markers up to its frame header and its end-of-image marker).
 * Images are immutable and never deleted: a card's face can always be found again.
 *
 * A face template names an image (PNG: the terminal's face renderer decodes PNG) and whether the
 * registered holder's photo is printed. Products point at a template; changing a template's image
 * changes the face of cards printed from then on, never of cards already printed.
 *
 * Application packages (at most 1 MiB) are uploaded with their name, version, AID, format and the
 * SHA-256 the issuer computed: the center recomputes it and refuses a mismatch (422). A package
 * version is immutable: the same bytes again answer the existing package, different bytes 409.
 */
import { createHash } from 'node:crypto';
import { PNG } from 'pngjs';
import { z } from 'zod';
import type { Knex } from 'knex';
import type { Db } from '../../../lib/db';
import { isUniqueViolation } from '../../../lib/db';
import { ApiError } from '../../errors';
import type { IssuerContext } from '../../issuer-auth';
import { idParams, insertId, isoTime, locked, logChange, n, notFound, positiveId, text } from './common';
import { route, type AnyRoute } from './route-def';

export const IMAGE_MAX_BYTES = 2 * 1024 * 1024;
export const IMAGE_MIN_SIDE = 16;
export const IMAGE_MAX_SIDE = 4096;
export const PACKAGE_MAX_BYTES = 1024 * 1024;
/** Image types the terminal's face renderer can print (terminal-worker/drivers/face-renderer.ts). */
export const FACE_IMAGE_TYPES = ['image/png'];

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const Image = z
  .object({ id: z.number().int(), name: z.string().nullable(), contentType: z.string(), byteSize: z.number().int(), width: z.number().int().nullable(), height: z.number().int().nullable(), sha256: z.string(), createdAt: z.string().nullable(), url: z.string() })
  .meta({ id: 'Image' });
const ImageUploadQuery = z.object({ name: text(200).optional() }).strict();

const FaceTemplate = z
  .object({ id: z.number().int(), name: z.string(), imageId: z.number().int(), holderPhoto: z.boolean(), productIds: z.array(z.number().int()), createdAt: z.string(), updatedAt: z.string() })
  .meta({ id: 'FaceTemplate' });
const FaceTemplateCreate = z.object({ name: text(200), imageId: positiveId, holderPhoto: z.boolean().optional() }).strict().meta({ id: 'FaceTemplateCreate' });
const FaceTemplateUpdate = z
  .object({ name: text(200).optional(), imageId: positiveId.optional(), holderPhoto: z.boolean().optional() })
  .strict()
  .refine((v) => Object.keys(v).length > 0, 'send at least one field to change')
  .meta({ id: 'FaceTemplateUpdate', minProperties: 1 });

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits');
const PackageUploadQuery = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'must be 1-100 letters, digits, . _ -'),
    version: z.string().regex(/^[0-9A-Za-z][0-9A-Za-z.+-]{0,39}$/, 'must be 1-40 letters, digits, . + -'),
    aid: z.string().regex(/^(?:[0-9A-F]{2}){5,16}$/, 'must be an ISO 7816-5 AID: 5-16 bytes as upper-case hex'),
    format: z.enum(['javacard-cap', 'binary']).describe('javacard-cap: a Java Card CAP file (a ZIP archive); binary: anything else'),
    sha256: sha256Hex.describe('SHA-256 of the body, computed by you; the upload is refused if the bytes differ'),
  })
  .strict();
const ApplicationPackage = z
  .object({ id: z.number().int(), name: z.string(), version: z.string(), aid: z.string(), format: z.string(), byteSize: z.number().int(), sha256: z.string(), createdAt: z.string() })
  .meta({ id: 'ApplicationPackage' });

// ---------- image checks ----------

export interface ImageInfo {
  contentType: 'image/png' | 'image/jpeg';
  width: number;
  height: number;
}

/** SOFn markers carry the frame's size (not DHT C4, JPG C8, DAC CC). */
const JPEG_SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

function jpegSize(b: Buffer): { width: number; height: number } | null {
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return null;
    const marker = b[i + 1];
    if (marker === 0xff) {
      i++;
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      i += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return null; // end of image or scan data before any frame header
    const len = b.readUInt16BE(i + 2);
    if (len < 2 || i + 2 + len > b.length) return null;
    if (JPEG_SOF.has(marker)) {
      if (len < 7) return null;
      return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
    }
    i += 2 + len;
  }
  return null;
}

/** Checks the bytes are a whole image of the declared type; throws 422 with the reason. */
export function inspectImage(bytes: Buffer, declared: string | undefined): ImageInfo {
  const bad = (code: string, msg: string) => new ApiError(422, code, msg);
  if (bytes.length === 0) throw bad('empty_body', 'The body is empty: send the image bytes.');
  let info: ImageInfo;
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(PNG_MAGIC)) {
    let png: PNG;
    try {
      png = PNG.sync.read(bytes);
    } catch (err) {
      throw bad('invalid_image', `The PNG does not decode: ${(err as Error).message}.`);
    }
    info = { contentType: 'image/png', width: png.width, height: png.height };
  } else if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    const size = jpegSize(bytes);
    if (!size) throw bad('invalid_image', 'The JPEG has no readable frame header.');
    let end = bytes.length;
    while (end > 2 && bytes[end - 1] === 0x00) end--; // some encoders pad with zeros
    if (!(bytes[end - 2] === 0xff && bytes[end - 1] === 0xd9)) throw bad('invalid_image', 'The JPEG is truncated (no end-of-image marker).');
    info = { contentType: 'image/jpeg', ...size };
  } else {
    throw bad('not_an_image', 'The body is neither a PNG nor a JPEG (by its first bytes).');
  }
  if (declared !== info.contentType) throw bad('type_mismatch', `The body is a ${info.contentType} but was sent as ${declared ?? 'no content type'}.`);
  if (info.width < IMAGE_MIN_SIDE || info.height < IMAGE_MIN_SIDE || info.width > IMAGE_MAX_SIDE || info.height > IMAGE_MAX_SIDE) {
    throw bad('image_size', `The image is ${info.width}×${info.height} pixels; each side must be ${IMAGE_MIN_SIDE}-${IMAGE_MAX_SIDE}.`);
  }
  return info;
}

// ---------- row → DTO ----------

const imageDto = (r: Record<string, unknown>) => ({
  id: n(r.id),
  name: (r.name as string | null) ?? null,
  contentType: String(r.content_type),
  byteSize: r.byte_size === null || r.byte_size === undefined ? n(r.length ?? 0) : n(r.byte_size),
  width: r.width === null || r.width === undefined ? null : n(r.width),
  height: r.height === null || r.height === undefined ? null : n(r.height),
  sha256: String(r.sha256),
  createdAt: isoTime(r.created_at_ms as number | null),
  url: `/api/images/${r.id}`,
});
const IMAGE_COLUMNS = ['id', 'name', 'content_type', 'byte_size', 'width', 'height', 'sha256', 'created_at_ms'];

async function templateDto(db: Knex, r: Record<string, unknown>) {
  const productIds = (await db('products').where({ face_template_id: r.id }).orderBy('id').pluck('id')).map(Number);
  return { id: n(r.id), name: String(r.name), imageId: n(r.image_id), holderPhoto: Boolean(r.holder_photo), productIds, createdAt: isoTime(r.created_at_ms as number)!, updatedAt: isoTime(r.updated_at_ms as number)! };
}

const packageDto = (r: Record<string, unknown>) => ({ id: n(r.id), name: String(r.name), version: String(r.version), aid: String(r.aid), format: String(r.format), byteSize: n(r.byte_size), sha256: String(r.sha256), createdAt: isoTime(r.created_at_ms as number)! });
const PACKAGE_COLUMNS = ['id', 'name', 'version', 'aid', 'format', 'byte_size', 'sha256', 'created_at_ms'];

async function ownImage(db: Knex, issuer: IssuerContext, imageId: number, columns = IMAGE_COLUMNS) {
  const img = await db('images').where({ id: imageId, issuer_id: issuer.issuerId }).first(columns);
  if (!img) throw notFound('image', imageId);
  return img;
}

async function faceImage(db: Knex, issuer: IssuerContext, imageId: number) {
  const img = await ownImage(db, issuer, imageId);
  if (!FACE_IMAGE_TYPES.includes(img.content_type)) {
    throw new ApiError(422, 'face_needs_png', `Image ${imageId} is a ${img.content_type}; card faces are printed from PNG images (the terminal's face renderer decodes PNG only). Upload the face as a PNG.`);
  }
  return img;
}

async function ownTemplate(db: Knex, issuer: IssuerContext, templateId: number) {
  const t = await db('face_templates').where({ id: templateId, issuer_id: issuer.issuerId }).first();
  if (!t) throw notFound('face template', templateId);
  return t;
}

async function ownPackage(db: Knex, issuer: IssuerContext, packageId: number, columns = PACKAGE_COLUMNS) {
  const p = await db('application_packages').where({ id: packageId, issuer_id: issuer.issuerId }).first(columns);
  if (!p) throw notFound('application package', packageId);
  return p;
}

export function mediaRouteDefs(db: Db): AnyRoute[] {
  return [
    // images
    route({
      method: 'post',
      path: '/issuer/images',
      operationId: 'uploadImage',
      summary: 'Upload a card face image (PNG or JPEG, at most 2 MiB): the raw bytes as the body',
      tag: 'Faces',
      auth: 'issuer',
      query: ImageUploadQuery,
      binaryBody: { contentTypes: ['image/png', 'image/jpeg'], maxBytes: IMAGE_MAX_BYTES, description: 'The image file' },
      errors: [422],
      responses: { 201: { description: 'Stored', schema: Image } },
      async handler({ issuer, query, bytes, contentType }) {
        const info = inspectImage(bytes, contentType);
        return db.transaction(async (trx) => {
          const row = { issuer_id: issuer.issuerId, content_type: info.contentType, bytes, sha256: createHash('sha256').update(bytes).digest('hex'), name: query.name ?? null, byte_size: bytes.length, width: info.width, height: info.height, created_at_ms: Date.now() };
          const id = await insertId(trx, 'images', row);
          await logChange(trx, issuer, 'uploadImage', 'image', id, { name: row.name, contentType: row.content_type, byteSize: row.byte_size, sha256: row.sha256 });
          return { status: 201, json: imageDto({ ...row, id }) };
        });
      },
    }),
    route({
      method: 'get',
      path: '/issuer/images',
      operationId: 'listImages',
      summary: 'Your images',
      tag: 'Faces',
      auth: 'issuer',
      responses: { 200: { description: 'The images', schema: z.object({ images: z.array(Image) }) } },
      async handler({ issuer }) {
        const rows = await db('images').where({ issuer_id: issuer.issuerId }).orderBy('id').select(IMAGE_COLUMNS);
        const sizes = await db('images').where({ issuer_id: issuer.issuerId }).whereNull('byte_size').select('id', db.raw('length(bytes) as length'));
        const len = new Map(sizes.map((s: { id: number; length: number }) => [n(s.id), n(s.length)]));
        return { json: { images: rows.map((r) => imageDto({ ...r, length: len.get(n(r.id)) })) } };
      },
    }),
    route({
      method: 'get',
      path: '/issuer/images/:imageId',
      operationId: 'getImage',
      summary: 'One image\'s metadata',
      tag: 'Faces',
      auth: 'issuer',
      params: idParams('imageId'),
      responses: { 200: { description: 'The image', schema: Image } },
      async handler({ issuer, params }) {
        const img = await ownImage(db, issuer, params.imageId);
        const length = img.byte_size === null ? n((await db('images').where({ id: img.id }).first(db.raw('length(bytes) as length')))?.length) : undefined;
        return { json: imageDto({ ...img, length }) };
      },
    }),
    route({
      method: 'get',
      path: '/issuer/images/:imageId/content',
      operationId: 'getImageContent',
      summary: 'One image\'s bytes',
      tag: 'Faces',
      auth: 'issuer',
      params: idParams('imageId'),
      responses: { 200: { description: 'The image', contentType: 'image/*' } },
      async handler({ issuer, params }) {
        const img = await ownImage(db, issuer, params.imageId, ['content_type', 'bytes', 'sha256']);
        return { body: Buffer.from(img.bytes), contentType: img.content_type, headers: { etag: `"${img.sha256}"` } };
      },
    }),

    // face templates
    route({
      method: 'post',
      path: '/issuer/face-templates',
      operationId: 'createFaceTemplate',
      summary: 'Create a card face template from one of your PNG images',
      tag: 'Faces',
      auth: 'issuer',
      body: FaceTemplateCreate,
      errors: [404, 422],
      responses: { 201: { description: 'Created', schema: FaceTemplate } },
      async handler({ issuer, body }) {
        return db.transaction(async (trx) => {
          await faceImage(trx, issuer, body.imageId);
          const now = Date.now();
          const id = await insertId(trx, 'face_templates', { issuer_id: issuer.issuerId, name: body.name, image_id: body.imageId, holder_photo: body.holderPhoto ?? false, created_at_ms: now, updated_at_ms: now });
          await logChange(trx, issuer, 'createFaceTemplate', 'face_template', id, body);
          return { status: 201, json: await templateDto(trx, await trx('face_templates').where({ id }).first()) };
        });
      },
    }),
    route({
      method: 'get',
      path: '/issuer/face-templates',
      operationId: 'listFaceTemplates',
      summary: 'Your face templates',
      tag: 'Faces',
      auth: 'issuer',
      responses: { 200: { description: 'The templates', schema: z.object({ faceTemplates: z.array(FaceTemplate) }) } },
      async handler({ issuer }) {
        const rows = await db('face_templates').where({ issuer_id: issuer.issuerId }).orderBy('id');
        return { json: { faceTemplates: await Promise.all(rows.map((r) => templateDto(db, r))) } };
      },
    }),
    route({
      method: 'get',
      path: '/issuer/face-templates/:templateId',
      operationId: 'getFaceTemplate',
      summary: 'One face template',
      tag: 'Faces',
      auth: 'issuer',
      params: idParams('templateId'),
      responses: { 200: { description: 'The template', schema: FaceTemplate } },
      async handler({ issuer, params }) {
        return { json: await templateDto(db, await ownTemplate(db, issuer, params.templateId)) };
      },
    }),
    route({
      method: 'patch',
      path: '/issuer/face-templates/:templateId',
      operationId: 'updateFaceTemplate',
      summary: 'Change a face template; products using it print the new face from now on',
      description: 'Cards already printed keep their face: images are immutable, and a template names an image.',
      tag: 'Faces',
      auth: 'issuer',
      params: idParams('templateId'),
      body: FaceTemplateUpdate,
      errors: [422],
      responses: { 200: { description: 'Updated', schema: FaceTemplate } },
      async handler({ issuer, params, body }) {
        return db.transaction(async (trx) => {
          const t = await ownTemplate(trx, issuer, params.templateId);
          await locked(trx, trx('face_templates').where({ id: t.id })).first('id');
          if (body.imageId !== undefined) await faceImage(trx, issuer, body.imageId);
          await trx('face_templates')
            .where({ id: t.id })
            .update({ ...(body.name !== undefined ? { name: body.name } : {}), ...(body.imageId !== undefined ? { image_id: body.imageId } : {}), ...(body.holderPhoto !== undefined ? { holder_photo: body.holderPhoto } : {}), updated_at_ms: Date.now() });
          if (body.imageId !== undefined) await trx('products').where({ face_template_id: t.id, issuer_id: issuer.issuerId }).update({ face_image_id: body.imageId });
          await logChange(trx, issuer, 'updateFaceTemplate', 'face_template', t.id, body);
          return { json: await templateDto(trx, await trx('face_templates').where({ id: t.id }).first()) };
        });
      },
    }),

    // application packages
    route({
      method: 'post',
      path: '/issuer/application-packages',
      operationId: 'uploadApplicationPackage',
      summary: 'Upload a CPU card application package (at most 1 MiB) with its SHA-256',
      tag: 'Applications',
      auth: 'issuer',
      query: PackageUploadQuery,
      binaryBody: { contentTypes: ['application/octet-stream', 'application/zip', 'application/java-archive'], maxBytes: PACKAGE_MAX_BYTES, description: 'The package file' },
      errors: [409, 422],
      responses: { 200: { description: 'The same version with the same bytes already exists', schema: ApplicationPackage }, 201: { description: 'Stored', schema: ApplicationPackage } },
      async handler({ issuer, query, bytes }) {
        if (bytes.length === 0) throw new ApiError(422, 'empty_body', 'The body is empty: send the package bytes.');
        const sha256 = createHash('sha256').update(bytes).digest('hex');
        if (sha256 !== query.sha256) throw new ApiError(422, 'checksum_mismatch', `The body's SHA-256 is ${sha256}, not the ${query.sha256} you sent: the upload was damaged or the wrong file was sent.`);
        if (query.format === 'javacard-cap' && !(bytes.length >= 4 && bytes.readUInt32BE(0) === 0x504b0304)) throw new ApiError(422, 'invalid_package', 'A Java Card CAP file is a ZIP archive, but the body does not start like one.');
        const existing = await db('application_packages').where({ issuer_id: issuer.issuerId, name: query.name, version: query.version }).first(PACKAGE_COLUMNS);
        if (existing) {
          if (existing.sha256 === sha256 && existing.aid === query.aid && existing.format === query.format) return { status: 200, json: packageDto(existing) };
          throw new ApiError(409, 'version_exists', `${query.name} ${query.version} already exists with other content; package versions are immutable, upload a new version.`);
        }
        return db.transaction(async (trx) => {
          const row = { issuer_id: issuer.issuerId, name: query.name, version: query.version, aid: query.aid, format: query.format, bytes, byte_size: bytes.length, sha256, created_at_ms: Date.now() };
          let id: number;
          try {
            id = await insertId(trx, 'application_packages', row);
          } catch (err) {
            if (isUniqueViolation(err)) throw new ApiError(409, 'version_exists', `${query.name} ${query.version} was uploaded at the same moment; fetch it and compare.`);
            throw err;
          }
          await logChange(trx, issuer, 'uploadApplicationPackage', 'application_package', id, { name: row.name, version: row.version, aid: row.aid, sha256 });
          return { status: 201, json: packageDto({ ...row, id }) };
        });
      },
    }),
    route({
      method: 'get',
      path: '/issuer/application-packages',
      operationId: 'listApplicationPackages',
      summary: 'Your application packages',
      tag: 'Applications',
      auth: 'issuer',
      responses: { 200: { description: 'The packages', schema: z.object({ applicationPackages: z.array(ApplicationPackage) }) } },
      async handler({ issuer }) {
        const rows = await db('application_packages').where({ issuer_id: issuer.issuerId }).orderBy(['name', 'id']).select(PACKAGE_COLUMNS);
        return { json: { applicationPackages: rows.map(packageDto) } };
      },
    }),
    route({
      method: 'get',
      path: '/issuer/application-packages/:packageId',
      operationId: 'getApplicationPackage',
      summary: 'One application package\'s metadata',
      tag: 'Applications',
      auth: 'issuer',
      params: idParams('packageId'),
      responses: { 200: { description: 'The package', schema: ApplicationPackage } },
      async handler({ issuer, params }) {
        return { json: packageDto(await ownPackage(db, issuer, params.packageId)) };
      },
    }),
    route({
      method: 'get',
      path: '/issuer/application-packages/:packageId/content',
      operationId: 'getApplicationPackageContent',
      summary: 'One application package\'s bytes (with its SHA-256 in the ETag)',
      tag: 'Applications',
      auth: 'issuer',
      params: idParams('packageId'),
      responses: { 200: { description: 'The package', contentType: 'application/octet-stream' } },
      async handler({ issuer, params }) {
        const p = await ownPackage(db, issuer, params.packageId, ['bytes', 'sha256', 'name', 'version']);
        return { body: Buffer.from(p.bytes), contentType: 'application/octet-stream', headers: { etag: `"${p.sha256}"`, 'content-disposition': `attachment; filename="${p.name}-${p.version}"` } };
      },
    }),
  ];
}
