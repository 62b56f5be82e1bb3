export { issuance } from './issuance';
