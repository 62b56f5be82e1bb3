import { createCardActivities } from './cards';
import { createCardApplicationActivities } from './card-applications';
import { createCashShortfallActivities } from './cash-shortfalls';
import { createCardPaymentActivities } from './card-payments';
import { createRegisterPaymentActivities } from './register-payments';
import type { CenterDeps } from './deps';
import { createHoldActivities } from './holds';
import { createHolderActivities } from './holders';
import { createNotificationActivities } from './notifications';
import { createPaymentActivities } from './payments';
import { createRevocationActivities } from './revocations';
import { createReloadActivities } from './reloads';
import { createStockCardActivities } from './stock-cards';
import { createSaleActivities } from './sales';
import { createSaleRefundActivities } from './sale-refunds';
import { createSettlementActivities } from './settlement';

export type { CenterDeps } from './deps';

/** All activities the center worker runs, built around injected dependencies. */
export function createCenterActivities(deps: CenterDeps) {
  return {
    ...createHoldActivities(deps),
    ...createPaymentActivities(deps),
    ...createCardPaymentActivities(deps),
    ...createRegisterPaymentActivities(deps),
    ...createCardActivities(deps),
    ...createSaleActivities(deps),
    ...createNotificationActivities(deps),
    ...createSaleRefundActivities(deps),
    ...createSettlementActivities(deps),
    ...createRevocationActivities(deps),
    ...createHolderActivities(deps),
    ...createStockCardActivities(deps),
    ...createReloadActivities(deps),
    ...createCardApplicationActivities(deps),
    ...createCashShortfallActivities(deps),
  };
}

export type CenterActivities = ReturnType<typeof createCenterActivities>;
