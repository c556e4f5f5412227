// Builds the DNS resolver the configuration describes (`dns:` section; durations in seconds).
import type { Config } from '../config/schema.js';
import { DnsResolver } from './resolver.js';

export function resolverFromConfig(dns: Config['dns']): DnsResolver {
  return new DnsResolver({
    servers: dns.servers,
    timeoutMs: dns.timeout * 1000,
    maxTtlSeconds: dns.max_ttl,
    negativeTtlSeconds: dns.negative_ttl,
    defaultTtlSeconds: dns.default_ttl,
    cacheSize: dns.cache_size,
  });
}
