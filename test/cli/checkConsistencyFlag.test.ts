// --check-consistency / MESHD_CHECK_CONSISTENCY: the debug mode that checks each proxy's RDS and EDS references.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addServeFlags, configFromFlags, type ServeFlags } from '../../src/cli/meshdFlags.js';

const parse = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  configFromFlags(
    addServeFlags(new Command())
      .exitOverride()
      .parse(['--config-dir', '/tmp', ...args], { from: 'user' })
      .opts<ServeFlags>(),
    env,
  );

describe('--check-consistency', () => {
  it('is off by default and turned on by the flag or MESHD_CHECK_CONSISTENCY=true', () => {
    expect(parse([]).checkConsistency).toBe(false);
    expect(parse(['--check-consistency']).checkConsistency).toBe(true);
    expect(parse([], { MESHD_CHECK_CONSISTENCY: 'true' }).checkConsistency).toBe(true);
    expect(parse([], { MESHD_CHECK_CONSISTENCY: '1' }).checkConsistency).toBe(true);
  });

  it('stays off for MESHD_CHECK_CONSISTENCY=false and refuses other values, naming the variable', () => {
    expect(parse([], { MESHD_CHECK_CONSISTENCY: 'false' }).checkConsistency).toBe(false);
    expect(parse([], { MESHD_CHECK_CONSISTENCY: '0' }).checkConsistency).toBe(false);
    expect(() => parse([], { MESHD_CHECK_CONSISTENCY: 'yes please' })).toThrow('MESHD_CHECK_CONSISTENCY="yes please": want true or false');
  });
});
