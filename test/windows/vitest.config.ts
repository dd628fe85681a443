// The Windows acceptance test (npm run test:windows): the Windows build of node.exe and Wine's
// cmd.exe through /work/shared/tools/winenode. Wine is slow, and a first run creates its prefix.
import * as path from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: path.resolve(__dirname, '..', '..'),
    include: ['test/windows/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 600_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
