// A scan pipeline for tests: configuration from YAML, log lines captured, and `ask` sending one
// policy request through the policy adapter, as the daemon does. The store and DNS resolver
// default to stand-ins for checks that use neither (give history: { enabled: false } then).
import type { CheckDescriptor } from '../../src/core/check.js';
import { ManualClock, type Clock } from '../../src/core/clock.js';
import { createLogger } from '../../src/core/log.js';
import { Pipeline } from '../../src/core/pipeline.js';
import { parseConfigText, resolveComputedDefaults } from '../../src/config/loader.js';
import type { Config } from '../../src/config/schema.js';
import { DnsResolver } from '../../src/dns/resolver.js';
import { envelopeFromAttributes, policyAction } from '../../src/policy/adapter.js';
import type { Store } from '../../src/store/types.js';

export interface TestPipelineOptions {
  /** The whole configuration file. */
  yaml: string;
  checks: readonly CheckDescriptor[];
  store?: Store;
  dns?: DnsResolver;
  clock?: Clock;
  /** Request attributes every `ask` starts from (before its own). */
  defaults?: Record<string, string>;
}

export interface TestPipeline {
  ask(attrs?: Record<string, string>): Promise<string>;
  /** Every log line so far (text format). */
  lines: string[];
  pipeline: Pipeline;
  config: Config;
}

export function testPipeline(options: TestPipelineOptions): TestPipeline {
  const config = resolveComputedDefaults(parseConfigText(options.yaml, 'test.yaml'));
  const lines: string[] = [];
  const log = createLogger('info', 'text', { write: (line: string) => lines.push(line) }).log;
  const pipeline = new Pipeline(options.checks, {
    config,
    store: options.store ?? ({} as Store),
    dns: options.dns ?? new DnsResolver(),
    clock: options.clock ?? new ManualClock(),
    log,
  });
  const ask = async (attrs: Record<string, string> = {}) => {
    const request = new Map(Object.entries({ request: 'smtpd_access_policy', protocol_state: 'RCPT', ...options.defaults, ...attrs }));
    const envelope = envelopeFromAttributes(request);
    const recipient = envelope.stage === 'rcpt' ? envelope.recipients[0] : undefined;
    return (await pipeline.decide(envelope, (d) => policyAction(d, config.greylist.action, recipient))).reply;
  };
  return { ask, lines, pipeline, config };
}
