// --config-rescan / MESHD_CONFIG_RESCAN: the file source's safety-net period.
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { addServeFlags, configFromFlags, type ServeFlags } from '../../src/cli/meshdFlags.js';

const parse = (args: string[]) => configFromFlags(addServeFlags(new Command()).exitOverride().parse(args, { from: 'user' }).opts<ServeFlags>(), {});

describe('--config-rescan', () => {
  afterEach(() => {
    delete process.env.MESHD_CONFIG_RESCAN;
  });

  it('defaults to 5s and takes a duration from the flag or MESHD_CONFIG_RESCAN', () => {
    expect(parse(['--config-dir', '/tmp']).configRescanMs).toBe(5_000);
    expect(parse(['--config-dir', '/tmp', '--config-rescan', '750ms']).configRescanMs).toBe(750);
    process.env.MESHD_CONFIG_RESCAN = '1m';
    expect(parse(['--config-dir', '/tmp']).configRescanMs).toBe(60_000);
  });

  it('refuses zero and malformed durations, naming the flag', () => {
    expect(() => parse(['--config-dir', '/tmp', '--config-rescan', '0s'])).toThrow('--config-rescan "0s": want a duration above zero');
    expect(() => parse(['--config-dir', '/tmp', '--config-rescan', 'often'])).toThrow(/--config-rescan: invalid duration "often"/);
  });
});
