/** Shared steps of the prepaid card suites: stock values, manufactured cards, verification. */
import { manufactureStockCards, type ManufacturedCard } from '../../activities/center/stock-cards';
import { cardSigningKeys } from '../../lib/card-signing';
import { loadStockCards } from '../../terminal-worker/simulators/simulated-customer-slot';
import type { Stack } from '../support/stack';
import { call } from '../support/kiosk-client';

/** The demo telco's ¥3,000 value, switched to "sold from stock". */
export async function stockValue(stack: Stack): Promise<{ valueId: number; priceMinor: number; valueMinor: number }> {
  const v = await stack.db('prepaid_values').where({ value_minor: 3000 }).first('id', 'price_minor', 'value_minor');
  await stack.db('prepaid_values').where({ id: v.id }).update({ sold_from_stock: true });
  return { valueId: Number(v.id), priceMinor: Number(v.price_minor), valueMinor: Number(v.value_minor) };
}

/** Manufactures stock cards with the stack's center key and loads them into a terminal's stock stocker. */
export async function stockCardsInKiosk(stack: Stack, terminalId: string, valueId: number, count: number): Promise<ManufacturedCard[]> {
  const { cards } = await manufactureStockCards(stack.db, cardSigningKeys(process.env, stack.env.DATA_DIR!), { valueId, count });
  loadStockCards(stack.machineFile(terminalId), cards);
  return cards;
}

/** What the center answers a gate presenting these chip bytes. */
export async function verifyChip(stack: Stack, chipBase64: string): Promise<{ valid: boolean; reason: string | null }> {
  const res = await call(stack.apiUrl, 'POST', '/api/verify', { record: chipBase64 });
  if (res.status !== 200) throw new Error(`verify answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}
