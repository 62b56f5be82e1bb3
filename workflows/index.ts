export { issuance } from './issuance';
export { floor } from './floor';
export { settlementFloor } from './settlement-floor';
export { settlement, settlementTrigger } from './settlement';
export { paymentReversal } from './payment-reversal';
export { revocation } from './revocation';
export { reload } from './reload';
export { addApplication } from './add-application';
