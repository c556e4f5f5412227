// Every Redis key Rempart uses is built here, so the layout is in one place (docs/redis.md lists
// them). A key is `<prefix>{<area>}:<part>:<part>...`: the area in braces is a Redis Cluster hash
// tag, so the keys of one area (greylist, bans, Bayes...) live in one slot and one Lua script or
// MULTI may touch several of them. Parts are joined with ':' as given; values that may hold ':'
// (IPv6 addresses, senders) are always the last part, so keys stay unambiguous.

/** The areas of the store; each is one hash tag. */
export type RedisArea = 'greylist' | 'history' | 'lists' | 'bans' | 'strikes' | 'recipients' | 'bayes' | 'meta';

export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** The key `<prefix>{<area>}:<parts joined by ':'>`. */
  key(area: RedisArea, ...parts: (string | number)[]): string {
    return `${this.prefix}{${area}}:${parts.join(':')}`;
  }

  /** The text every key of an area starts with (for SCAN MATCH in tests and `store copy`). */
  areaPrefix(area: RedisArea): string {
    return `${this.prefix}{${area}}:`;
  }
}
