/**
 * Every Temporal payload (workflow inputs and results, activity arguments, update and query
 * values, memos) and every failure's message and stack is encrypted with AES-256-GCM before it
 * leaves our processes, so workflow history holds no card data or personal data in clear.
 *
 * The whole original Payload (metadata and data) is serialised and encrypted; the new payload's
 * metadata says `encoding: binary/encrypted` and names the key (`encryption-key-id`), so keys can
 * rotate: new payloads use the current key, old ones decrypt with theirs. Layout of `data`:
 * 12-byte IV | ciphertext | 16-byte GCM tag; the key id is bound in as additional data.
 * Node's crypto does the cipher; the envelope is the pattern of Temporal's encryption sample.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type DataConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA_KEY = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Where keys come from: configuration today, a KMS tomorrow. */
export interface KeyProvider {
  currentKeyId(): string;
  key(keyId: string): Promise<Buffer>;
}

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array | null | undefined) => (b ? new TextDecoder().decode(b) : undefined);

export class EncryptionCodec implements PayloadCodec {
  constructor(private readonly keys: KeyProvider) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const keyId = this.keys.currentKeyId();
    const key = await this.keys.key(keyId);
    return payloads.map((payload) => {
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(keyId));
      const body = Buffer.concat([cipher.update(plain), cipher.final()]);
      return {
        metadata: { [METADATA_ENCODING_KEY]: text(ENCRYPTED_ENCODING), [KEY_ID_METADATA_KEY]: text(keyId) },
        data: Buffer.concat([iv, body, cipher.getAuthTag()]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(
      payloads.map(async (payload) => {
        if (str(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) return payload;
        const keyId = str(payload.metadata?.[KEY_ID_METADATA_KEY]);
        if (!keyId) throw new Error('encrypted payload without a key id');
        const key = await this.keys.key(keyId);
        const data = Buffer.from(payload.data ?? new Uint8Array());
        if (data.length < IV_BYTES + TAG_BYTES) throw new Error('encrypted payload too short');
        const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
        decipher.setAAD(Buffer.from(keyId));
        decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
        const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
        return temporal.api.common.v1.Payload.decode(plain);
      }),
    );
  }
}

/** The converter clients and workers share: encrypted payloads, and failure messages encoded too. */
export function encryptedDataConverter(keys: KeyProvider): DataConverter {
  return { payloadCodecs: [new EncryptionCodec(keys)], failureConverterPath: FAILURE_CONVERTER_PATH };
}

/** Bundlers of workflow code pass this too, so workflows encode failures the same way. */
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');
