// --push-throttle, --xds-max-queued-bytes and --xds-stream-window: the ADS server's flow-control limits.
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { addServeFlags, configFromFlags, type ServeFlags } from '../../src/cli/meshdFlags.js';

const parse = (args: string[]) =>
  configFromFlags(
    addServeFlags(new Command())
      .exitOverride()
      .parse(['--config-dir', '/tmp', ...args], { from: 'user' })
      .opts<ServeFlags>(),
    {},
  );

describe('flow-control flags', () => {
  afterEach(() => {
    delete process.env.MESHD_XDS_MAX_QUEUED_BYTES;
  });

  it("defaults to istiod's push throttle of 100, a 64 MiB budget and one response in flight per stream", () => {
    const config = parse([]);
    expect(config.pushConcurrency).toBe(100);
    expect(config.maxQueuedBytes).toBe(64 * 2 ** 20);
    expect(config.streamWindowBytes).toBe(0);
  });

  it('takes byte counts with Ki, Mi and Gi suffixes, from the flag or its environment variable', () => {
    const config = parse(['--push-throttle', '20', '--xds-max-queued-bytes', '256Mi', '--xds-stream-window', '512Ki']);
    expect(config.pushConcurrency).toBe(20);
    expect(config.maxQueuedBytes).toBe(256 * 2 ** 20);
    expect(config.streamWindowBytes).toBe(512 * 2 ** 10);
    process.env.MESHD_XDS_MAX_QUEUED_BYTES = '1Gi';
    expect(parse([]).maxQueuedBytes).toBe(2 ** 30);
  });

  it('refuses malformed and out-of-range values, naming the flag', () => {
    expect(() => parse(['--push-throttle', '0'])).toThrow('--push-throttle "0": want a whole number of at least 1');
    expect(() => parse(['--xds-max-queued-bytes', '64MB'])).toThrow('--xds-max-queued-bytes "64MB": want a byte count of at least 1');
    expect(() => parse(['--xds-max-queued-bytes', '0'])).toThrow('--xds-max-queued-bytes "0"');
    expect(() => parse(['--xds-stream-window', '-1'])).toThrow('--xds-stream-window "-1"');
  });
});
