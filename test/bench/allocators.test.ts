// The scale benchmark runs meshd under the allocator settings the image ships by default: read from the
// Dockerfile (whose ENV lines test/kube/manifests.test.ts keeps equal to the Deployment's), so they cannot drift.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allocatorEnv, imageAllocatorEnv, shippedAllocator } from '../../bench/allocators.js';

const dockerfile = readFileSync(join(import.meta.dirname, '..', '..', 'Dockerfile'), 'utf8');

describe('benchmark allocator settings', () => {
  it("names the Dockerfile's glibc settings as the shipped setting", () => {
    const image = imageAllocatorEnv(dockerfile);
    expect(Object.keys(image)).toContain('MALLOC_ARENA_MAX');
    expect(allocatorEnv(shippedAllocator())).toEqual(image);
    expect(shippedAllocator()).toBe(shippedAllocator(dockerfile));
  });

  it('follows the Dockerfile, and fails on settings it has no name for', () => {
    expect(shippedAllocator('FROM node:20\nENV NODE_ENV=production\n')).toBe('default');
    expect(shippedAllocator('FROM node:20\nENV MALLOC_ARENA_MAX=2\n')).toBe('arena2');
    expect(shippedAllocator('ENV MALLOC_MMAP_THRESHOLD_=131072\nENV MALLOC_ARENA_MAX=2\n')).toBe('arena2-mmap');
    expect(() => shippedAllocator('ENV MALLOC_ARENA_MAX=4\n')).toThrow(
      /the Dockerfile sets \{"MALLOC_ARENA_MAX":"4"\}, which no allocator setting in bench\/allocators.ts is/,
    );
  });
});
