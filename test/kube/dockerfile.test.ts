// The Dockerfile's base image: one Node.js line for every stage, an LTS line
// that has not reached end of life, and the README naming the same image.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

/**
 * End of life of the Node.js LTS lines, from the Node.js release schedule
 * (github.com/nodejs/Release, schedule.json). A line missing here fails the test
 * until its dates are added from that schedule.
 */
const ltsEndOfLife: Record<number, string> = {
  20: '2026-04-30',
  22: '2027-04-30',
  24: '2028-04-30',
  26: '2029-04-30',
};

function baseImages(): string[] {
  return [...readFileSync(join(root, 'Dockerfile'), 'utf8').matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]!);
}

describe('Dockerfile base image', () => {
  it('every stage uses the same official node image line', () => {
    const images = baseImages();
    expect(images.length).toBeGreaterThanOrEqual(2);
    expect(new Set(images).size).toBe(1);
    expect(images[0]).toMatch(/^node:\d+-slim$/);
  });

  it('is a Node.js LTS line that has not reached end of life', () => {
    const major = Number(/^node:(\d+)/.exec(baseImages()[0]!)![1]);
    const end = ltsEndOfLife[major];
    expect(end, `node ${major} is not a known LTS line: add its end of life from nodejs/Release schedule.json`).toBeDefined();
    expect(new Date(`${end}T23:59:59Z`).getTime(), `node ${major} reached end of life on ${end}`).toBeGreaterThan(Date.now());
  });

  it('satisfies package.json engines, and the README names the same image', () => {
    const major = Number(/^node:(\d+)/.exec(baseImages()[0]!)![1]);
    const engines = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    const minimum = Number(/^>=\s*(\d+)/.exec(engines)![1]);
    expect(major).toBeGreaterThanOrEqual(minimum);
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain(`\`${baseImages()[0]}\``);
  });
});
