// An answer reused for a while: the last result of an expensive read (a count over a whole table)
// serves every caller for `lifetimeMs`, and callers arriving while it is computed share it.
/** `compute`'s last answer, reused for `lifetimeMs` (a failed answer is not kept). */
export function reusedFor<T>(lifetimeMs: number, compute: () => Promise<T>): () => Promise<T> {
  let last: { expiresMs: number; value: Promise<T>; pending: boolean } | undefined;
  return () => {
    const now = Date.now();
    if (last && (last.pending || last.expiresMs > now)) return last.value;
    const entry = { expiresMs: now + lifetimeMs, value: compute(), pending: true };
    last = entry;
    entry.value.then(
      () => {
        entry.pending = false;
        entry.expiresMs = Date.now() + lifetimeMs;
      },
      () => {
        if (last === entry) last = undefined;
      },
    );
    return entry.value;
  };
}
