/**
 * Tests are TypeScript compiled by `npm run build` into dist/; jest runs the compiled suites, and
 * the worker processes the suites start run the same compiled code.
 */
module.exports = {
  rootDir: 'dist',
  testMatch: ['<rootDir>/test/**/*.test.js'],
  globalSetup: '<rootDir>/test/support/global-setup.js',
  globalTeardown: '<rootDir>/test/support/global-teardown.js',
  testEnvironment: 'node',
  testTimeout: 120000,
  verbose: true,
  // The Temporal SDK's native runtime keeps a handle open after the last test; nothing else may.
  forceExit: true,
};
