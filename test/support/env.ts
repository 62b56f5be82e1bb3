/** Where the shared test services are; set by global-setup, read by suites. */
export const TEST_MYSQL_URL = process.env.TEST_MYSQL_URL ?? 'mysql://icc:icc@127.0.0.1:3306';

export function temporalTestAddress(): string {
  const a = process.env.TEMPORAL_TEST_ADDRESS;
  if (!a) throw new Error('TEMPORAL_TEST_ADDRESS is not set: run the tests through jest (global-setup starts the Temporal dev server)');
  return a;
}

export function workflowBundlePath(): string {
  const p = process.env.WORKFLOW_BUNDLE_PATH;
  if (!p) throw new Error('WORKFLOW_BUNDLE_PATH is not set: run the tests through jest');
  return p;
}
