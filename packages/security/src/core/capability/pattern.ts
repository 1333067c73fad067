/**
 * Resource and ability patterns: an exact string, or a prefix followed by a single trailing `*`
 * (`kv/users/*`, `*`). Kept this small on purpose: "is A within B" must be obviously right, because
 * delegation's promise (never more than the parent) rests on it.
 */
export function isValidPattern(pattern: string): boolean {
  if (pattern.length === 0) return false
  const star = pattern.indexOf('*')
  return star === -1 || star === pattern.length - 1
}

/** True when everything `inner` matches is also matched by `outer`. */
export function patternCovers(outer: string, inner: string): boolean {
  if (!outer.endsWith('*')) return inner === outer
  return inner.startsWith(outer.slice(0, -1))
}

/** True when the concrete `value` (no wildcard meaning) is matched by `pattern`. */
export function patternMatches(pattern: string, value: string): boolean {
  if (!pattern.endsWith('*')) return value === pattern
  return value.startsWith(pattern.slice(0, -1))
}
