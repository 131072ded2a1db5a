import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Shared sub-messages are encoded once: freeze them under test so an edit after sharing throws.
    env: { MESHD_FREEZE_SHARED_MESSAGES: '1' },
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Each file starts its own servers on ephemeral loopback ports.
    fileParallelism: true,
  },
});
