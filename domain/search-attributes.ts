/**
 * Custom search attributes the operator filters on in the Temporal Web UI.
 * Never put personal data here: search attributes are indexed in clear.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const TerminalIdKey = defineSearchAttributeKey('TerminalId', SearchAttributeType.KEYWORD);
export const IssuerIdKey = defineSearchAttributeKey('IssuerId', SearchAttributeType.KEYWORD);
export const ProductTypeKey = defineSearchAttributeKey('ProductType', SearchAttributeType.KEYWORD);
export const IssuanceStageKey = defineSearchAttributeKey('IssuanceStage', SearchAttributeType.KEYWORD);
/** Revocation workflows: the card (an opaque id, not personal data) and why. */
export const CardIdKey = defineSearchAttributeKey('CardId', SearchAttributeType.KEYWORD);
export const RevocationReasonKey = defineSearchAttributeKey('RevocationReason', SearchAttributeType.KEYWORD);

/** Name=Type pairs for `temporal server start-dev --search-attribute`. */
export const SEARCH_ATTRIBUTE_ARGS = ['TerminalId=Keyword', 'IssuerId=Keyword', 'ProductType=Keyword', 'IssuanceStage=Keyword', 'CardId=Keyword', 'RevocationReason=Keyword'];
