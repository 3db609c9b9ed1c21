// Three projects: `unit` (pure modules and mocked orchestration, seconds),
// `e2e` (real engine, real @actions/cache client, local cache service) and
// `bench` (figures, run only by `npm run bench`).
const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true }]
  }
}

export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/__tests__/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/__tests__/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/__tests__/support/engine-setup.ts'
    },
    { ...common, displayName: 'bench', testMatch: ['<rootDir>/bench/**/*.bench.ts'] }
  ]
}
