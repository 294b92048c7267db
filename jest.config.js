/** Unit specs live next to the code (src/, libs/); end-to-end specs in test/. */
const moduleNameMapper = {
  '^@charla/contracts$': '<rootDir>/libs/contracts/src',
  '^@charla/contracts/(.*)$': '<rootDir>/libs/contracts/src/$1',
};
const transform = { '^.+\\.ts$': 'ts-jest' };
const common = {
  moduleFileExtensions: ['ts', 'js', 'json'],
  transform,
  moduleNameMapper,
  testEnvironment: 'node',
  // The build output carries a copy of package.json; keep it out of jest's module map.
  modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/data/'],
};

module.exports = {
  testTimeout: 30000,
  projects: [
    { ...common, displayName: 'unit', rootDir: __dirname, testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/libs/**/*.spec.ts'] },
    {
      ...common,
      displayName: 'e2e',
      rootDir: __dirname,
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
    },
  ],
};
