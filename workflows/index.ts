export { issuance } from './issuance';
export { floor } from './floor';
