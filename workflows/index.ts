export { issuance } from './issuance';
export { floor } from './floor';
export { settlement, settlementTrigger } from './settlement';
export { revocation } from './revocation';
