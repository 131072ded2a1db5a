import { defineConfig } from 'vitest/config';
import { unitTests } from './test/unitTests.js';

export default defineConfig({
  test: {
    pool: 'forks',
    // Shared sub-messages are encoded once: freeze them under test so an edit after sharing throws.
    env: { MESHD_FREEZE_SHARED_MESSAGES: '1' },
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Each file starts its own servers on ephemeral loopback ports.
    fileParallelism: true,
    // `npm test -- --project unit` runs only the pure tests; `npm test` runs both projects. No root `include`:
    // `extends: true` would concatenate it with each project's.
    projects: [
      { extends: true, test: { name: 'unit', include: [...unitTests] } },
      { extends: true, test: { name: 'e2e', include: ['test/**/*.test.ts'], exclude: [...unitTests] } },
    ],
  },
});
