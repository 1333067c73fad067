import { DecodeError } from '../errors'

/**
 * Small validators that turn an untrusted decoded payload into typed values, throwing DecodeError
 * with the field path. Protocols compose them in their `decodeMessage` functions, e.g.
 *
 *   const body = expectRecord(payload, 'append')
 *   const term = expectUint(body.term, 'append.term')
 */
export type Path = string

function invalid(path: Path, expected: string, value: unknown): never {
  const kind =
    value === null
      ? 'null'
      : Array.isArray(value)
        ? 'array'
        : value instanceof Uint8Array
          ? 'bytes'
          : typeof value
  throw new DecodeError('INVALID_FIELD', `${path}: expected ${expected}, got ${kind}`, {
    field: path,
    expected,
  })
}

export function expectRecord(value: unknown, path: Path): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    return invalid(path, 'a map', value)
  }
  return value as Record<string, unknown>
}

export function expectArray(value: unknown, path: Path, lengthMax: number): unknown[] {
  if (!Array.isArray(value)) return invalid(path, 'an array', value)
  if (value.length > lengthMax) {
    throw new DecodeError('OVERSIZED', `${path}: ${value.length} items exceed ${lengthMax}`, {
      field: path,
      max: lengthMax,
    })
  }
  return value
}

/** A non-negative safe integer, at most `max`. */
export function expectUint(value: unknown, path: Path, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    return invalid(path, 'a non-negative integer', value)
  }
  if (value > max)
    throw new DecodeError('INVALID_FIELD', `${path}: ${value} exceeds ${max}`, { field: path, max })
  return value
}

export function expectInt(value: unknown, path: Path): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) return invalid(path, 'an integer', value)
  return value
}

export function expectNumber(value: unknown, path: Path): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) return invalid(path, 'a finite number', value)
  return value
}

export function expectBoolean(value: unknown, path: Path): boolean {
  if (typeof value !== 'boolean') return invalid(path, 'a boolean', value)
  return value
}

export function expectString(value: unknown, path: Path, lengthMax: number): string {
  if (typeof value !== 'string') return invalid(path, 'a string', value)
  if (value.length > lengthMax) {
    throw new DecodeError('OVERSIZED', `${path}: string of ${value.length} exceeds ${lengthMax}`, {
      field: path,
      max: lengthMax,
    })
  }
  return value
}

export function expectBytes(value: unknown, path: Path, lengthMax: number, lengthMin = 0): Uint8Array {
  if (!(value instanceof Uint8Array)) return invalid(path, 'bytes', value)
  if (value.length > lengthMax) {
    throw new DecodeError('OVERSIZED', `${path}: ${value.length} bytes exceed ${lengthMax}`, {
      field: path,
      max: lengthMax,
    })
  }
  if (value.length < lengthMin) {
    throw new DecodeError('INVALID_FIELD', `${path}: ${value.length} bytes, need at least ${lengthMin}`, {
      field: path,
    })
  }
  return value
}

export function expectOneOf<T extends string>(value: unknown, path: Path, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new DecodeError('INVALID_FIELD', `${path}: expected one of ${allowed.join(', ')}`, {
      field: path,
      allowed,
    })
  }
  return value as T
}

export function optional<T>(value: unknown, read: (value: unknown) => T): T | undefined {
  return value === undefined || value === null ? undefined : read(value)
}
