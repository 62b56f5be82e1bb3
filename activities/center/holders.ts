/**
 * The registered holder of an issuance (a user logged in at the kiosk): what the hold checks,
 * what the card face gets, and the validity of a renewed pass.
 *
 * - A product whose face template asks for the holder's photo (face_templates.holder_photo) is
 *   refused, with a clear message, to an anonymous customer and to a user without a PNG photo
 *   (the face renderer prints PNG) — at selection, before any money is taken.
 * - A renewal ("renew my pass") is for the same fare as the card it renews.
 * - The face details (name, photo) are read at printing time from the user's row, so they travel
 *   only inside the encrypted activity payloads, never in logs, memos or search attributes.
 */
import type { Knex } from 'knex';
import { ApplicationFailure } from '@temporalio/common';
import { commuterValidity, type Validity } from '../../domain/card-validity';
import type { ProductType, Selection } from '../../domain/issuance';
import type { HolderFace, IssuanceHolder } from '../../domain/users';
import type { CenterDeps } from './deps';
import { refuse } from './errors';

const photoRequired = (message: string) => ApplicationFailure.nonRetryable(message, 'HolderPhotoRequired');
const invalid = (message: string) => ApplicationFailure.nonRetryable(message, 'InvalidRequest');

/** Checks the holder against the item being held; the issuance row's user columns and the face flags. */
export async function checkHolder(
  trx: Knex,
  item: { productId: number; productType: ProductType },
  selection: Selection,
  holder: IssuanceHolder | undefined,
): Promise<{ row: { user_id: string | null; renews_card_id: string | null }; face: HolderFace | null }> {
  const template = await trx('products as p').leftJoin('face_templates as t', 't.id', 'p.face_template_id').where('p.id', item.productId).first('t.holder_photo');
  const photo = Boolean(template?.holder_photo);
  if (!holder) {
    if (photo) throw photoRequired("This card carries the holder's photo: please log in with your user ID and PIN (a registration with a photo) to buy it.");
    return { row: { user_id: null, renews_card_id: null }, face: null };
  }
  const user = await trx('users').where({ id: holder.userId }).first('id', 'locked_at_ms');
  if (!user) throw invalid(`There is no registered user ${holder.userId}.`);
  if (user.locked_at_ms !== null) throw invalid('This account is locked; please contact the help desk.');
  if (photo) {
    const p = await trx('user_photos').where({ user_id: holder.userId }).first('content_type');
    if (!p) throw photoRequired("This card carries the holder's photo, and your registration has no photo. Please add a photo to your registration first.");
    if (p.content_type !== 'image/png') throw photoRequired("This card carries the holder's photo, and your photo is a JPEG: the card printer prints PNG photos. Please add your photo again as a PNG.");
  }
  if (holder.renewsCardId) {
    const renewed = await trx('cards as c').join('issuances as i', 'i.id', 'c.issuance_id').where('c.id', holder.renewsCardId).first('i.selection', 'i.user_id');
    const was = renewed ? (JSON.parse(renewed.selection) as Selection) : null;
    if (!renewed || renewed.user_id !== holder.userId) throw invalid(`There is no card ${holder.renewsCardId} of this user to renew.`);
    if (selection.kind !== 'fare' || was?.kind !== 'fare' || was.fareId !== selection.fareId) throw invalid('A renewal is for the same commuter pass (the same route and period) as the card it renews.');
  }
  return {
    row: { user_id: holder.userId, renews_card_id: holder.renewsCardId ?? null },
    face: { name: item.productType === 'commuter', photo },
  };
}

/**
 * A renewed pass starts where the card it renews ends, if that card is still valid and not
 * revoked when the new one is made; otherwise (or for anything but a renewal) null: the usual validity.
 */
export async function renewalValidity(db: Knex, iss: { renews_card_id?: string | null; selection: string }, issuedAtMs: number): Promise<Validity | null> {
  if (!iss.renews_card_id) return null;
  const sel = JSON.parse(iss.selection) as Selection;
  if (sel.kind !== 'fare') return null;
  const old = await db('cards as c').leftJoin('card_revocations as r', 'r.card_id', 'c.id').where('c.id', iss.renews_card_id).first('c.valid_until_ms', 'r.card_id as revoked');
  const fare = await db('commuter_fares').where({ id: sel.fareId }).first('months');
  if (!old || !fare || old.revoked || old.valid_until_ms === null || Number(old.valid_until_ms) <= issuedAtMs) return null;
  return commuterValidity(Number(old.valid_until_ms), Number(fare.months));
}

export function createHolderActivities({ db }: CenterDeps) {
  return {
    /** The holder's name and photo (PNG, base64) for the card face, as the hold decided. */
    async holderFaceDetails(issuanceId: string, face: HolderFace): Promise<{ holderName: string | null; photoPngBase64: string | null }> {
      const iss = await db('issuances').where({ id: issuanceId }).first('user_id');
      if (!iss?.user_id) throw refuse('InvariantBroken', `issuance ${issuanceId} has no registered holder`);
      const user = await db('users').where({ id: iss.user_id }).first('name');
      let photoPngBase64: string | null = null;
      if (face.photo) {
        const p = await db('user_photos').where({ user_id: iss.user_id }).first('content_type', 'bytes');
        // Checked at the hold; a photo replaced by a JPEG since then cannot be printed: production fails and refunds.
        if (!p || p.content_type !== 'image/png') throw photoRequired("The holder's photo is no longer a printable PNG.");
        photoPngBase64 = Buffer.from(p.bytes).toString('base64');
      }
      return { holderName: face.name ? (user?.name ?? null) : null, photoPngBase64 };
    },
  };
}
