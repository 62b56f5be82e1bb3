/**
 * ISO 8583 for payment hosts: field tables, the packer and response codes. Uses Node's Buffer,
 * so import it from activities and servers, not from workflows (response-codes.ts alone is pure
 * and may be imported directly by a workflow).
 */
export * from './field-table';
export * from './default-field-table';
export * from './packer';
export * from './response-codes';
