import { DecodeError, checkLimit, expectArray, expectRecord, expectUint } from '@socketcloud/core'
import type { ApplyContext } from '@socketcloud/core'
import { CommandError } from '../command-error'
import { command, defineStateMachine, query } from '../define'
import type { MachineLimits } from '../define'
import { compareStrings, expectBoundedString } from '../limits'

export interface LockOptions extends MachineLimits {
  /** @default 512 */
  readonly nameBytesMax?: number
  /** @default 256 */
  readonly ownerBytesMax?: number
  /** Longest lease a client may ask for. @default 24 h */
  readonly leaseMsMax?: number
  /** Locks held at once (expired ones are swept first); beyond it acquire is refused with LIMIT_EXCEEDED. @default 100,000 */
  readonly locksMax?: number
}

export const LOCK_DEFAULTS = Object.freeze({
  nameBytesMax: 512,
  ownerBytesMax: 256,
  leaseMsMax: 24 * 60 * 60 * 1000,
  locksMax: 100_000,
})

export interface LockGrant {
  readonly owner: string
  /** Strictly increasing across every grant of every lock; storage should refuse writes with an older token. */
  readonly fencingToken: number
  readonly expiresAtMs: number
}

interface LockState {
  /** The last fencing token issued (0 before the first grant). */
  lastToken: number
  /** The latest leader timestamp applied; the machine's notion of now, which never goes backwards. */
  clockMs: number
  readonly locks: Map<string, LockGrant>
}

export type AcquireResult =
  | ({ readonly granted: true } & LockGrant)
  | { readonly granted: false; readonly holder: string; readonly expiresAtMs: number }

export interface LockView {
  readonly lock: LockGrant | null
  /** Time as of the last applied command: a lock whose expiresAtMs is later was still held then. */
  readonly clockMs: number
}

/**
 * Leased locks with fencing tokens. Time is the leader's timestamp proposed into the log
 * (ApplyContext.timestampMs), never a replica's clock, so every replica decides expiry identically;
 * the machine's clock is the largest timestamp applied so far, so a new leader whose clock is behind
 * cannot resurrect or extend a lease. A lease is held while now < expiresAtMs.
 *
 * Acquire by the current holder renews and keeps the token (so a retried acquire is harmless);
 * release and renew name the token, so a holder whose lease expired and was granted to someone else
 * is refused rather than touching the new grant.
 */
export function lockService(options: LockOptions = {}) {
  const nameBytesMax = checkLimit('nameBytesMax', options.nameBytesMax ?? LOCK_DEFAULTS.nameBytesMax)
  const ownerBytesMax = checkLimit('ownerBytesMax', options.ownerBytesMax ?? LOCK_DEFAULTS.ownerBytesMax)
  const leaseMsMax = checkLimit('leaseMsMax', options.leaseMsMax ?? LOCK_DEFAULTS.leaseMsMax)
  const locksMax = checkLimit('locksMax', options.locksMax ?? LOCK_DEFAULTS.locksMax)
  const lockName = (value: unknown, path: string) => expectBoundedString(value, path, nameBytesMax)
  const owner = (value: unknown, path: string) => expectBoundedString(value, path, ownerBytesMax)
  const lease = (value: unknown, path: string) => {
    const leaseMs = expectUint(value, path, leaseMsMax)
    if (leaseMs === 0) throw new DecodeError('INVALID_FIELD', `${path}: a lease must be at least 1 ms`)
    return leaseMs
  }
  const advance = (state: LockState, context: ApplyContext): number => {
    state.clockMs = Math.max(state.clockMs, context.timestampMs)
    return state.clockMs
  }
  /** The grant matching owner and token that is still live, or a CommandError saying why not. */
  const held = (state: LockState, name: string, holder: string, token: number, now: number): LockGrant => {
    const grant = state.locks.get(name)
    if (grant === undefined || grant.owner !== holder || grant.fencingToken !== token) {
      throw new CommandError('NOT_HOLDER', `${holder} does not hold ${name} with token ${token}`, {
        name,
        token,
      })
    }
    if (now >= grant.expiresAtMs) {
      throw new CommandError('LEASE_EXPIRED', `the lease on ${name} expired at ${grant.expiresAtMs}`, {
        name,
        expiresAtMs: grant.expiresAtMs,
      })
    }
    return grant
  }

  return defineStateMachine(
    {
      name: 'socketcloud.lock',
      initial: (): LockState => ({ lastToken: 0, clockMs: 0, locks: new Map() }),
      commands: {
        acquire: command({
          decode: (value: unknown) => {
            const args = expectRecord(value, 'acquire')
            return {
              name: lockName(args['name'], 'acquire.name'),
              owner: owner(args['owner'], 'acquire.owner'),
              leaseMs: lease(args['leaseMs'], 'acquire.leaseMs'),
            }
          },
          apply: (state: LockState, args, context): AcquireResult => {
            const now = advance(state, context)
            const grant = state.locks.get(args.name)
            const live = grant !== undefined && now < grant.expiresAtMs
            if (live && grant.owner !== args.owner) {
              return { granted: false, holder: grant.owner, expiresAtMs: grant.expiresAtMs }
            }
            if (live) {
              const renewed = { ...grant, expiresAtMs: now + args.leaseMs }
              state.locks.set(args.name, renewed)
              return { granted: true, ...renewed }
            }
            if (grant === undefined && state.locks.size >= locksMax) {
              for (const [name, other] of state.locks) if (now >= other.expiresAtMs) state.locks.delete(name)
              if (state.locks.size >= locksMax) {
                throw new CommandError('LIMIT_EXCEEDED', `locksMax (${locksMax}) locks are held`, {
                  locksMax,
                })
              }
            }
            state.lastToken++
            const fresh: LockGrant = {
              owner: args.owner,
              fencingToken: state.lastToken,
              expiresAtMs: now + args.leaseMs,
            }
            state.locks.set(args.name, fresh)
            return { granted: true, ...fresh }
          },
        }),
        renew: command({
          decode: (value: unknown) => {
            const args = expectRecord(value, 'renew')
            return {
              name: lockName(args['name'], 'renew.name'),
              owner: owner(args['owner'], 'renew.owner'),
              fencingToken: expectUint(args['fencingToken'], 'renew.fencingToken'),
              leaseMs: lease(args['leaseMs'], 'renew.leaseMs'),
            }
          },
          apply: (state: LockState, args, context): LockGrant => {
            const now = advance(state, context)
            const grant = held(state, args.name, args.owner, args.fencingToken, now)
            const renewed = { ...grant, expiresAtMs: now + args.leaseMs }
            state.locks.set(args.name, renewed)
            return renewed
          },
        }),
        release: command({
          decode: (value: unknown) => {
            const args = expectRecord(value, 'release')
            return {
              name: lockName(args['name'], 'release.name'),
              owner: owner(args['owner'], 'release.owner'),
              fencingToken: expectUint(args['fencingToken'], 'release.fencingToken'),
            }
          },
          apply: (state: LockState, args, context): { released: true } => {
            const now = advance(state, context)
            held(state, args.name, args.owner, args.fencingToken, now)
            state.locks.delete(args.name)
            return { released: true }
          },
        }),
      },
      queries: {
        get: query({
          decode: (value: unknown) => ({ name: lockName(expectRecord(value, 'get')['name'], 'get.name') }),
          run: (state: LockState, args): LockView => {
            const grant = state.locks.get(args.name)
            const live = grant !== undefined && state.clockMs < grant.expiresAtMs
            return { lock: live ? grant : null, clockMs: state.clockMs }
          },
        }),
      },
      snapshot: (state) => [
        state.lastToken,
        state.clockMs,
        [...state.locks.keys()].sort(compareStrings).map((name) => {
          const grant = state.locks.get(name)!
          return [name, grant.owner, grant.fencingToken, grant.expiresAtMs]
        }),
      ],
      restore: (value): LockState => {
        const [lastToken, clockMs, rows] = expectArray(value, 'lock snapshot', 3)
        const state: LockState = {
          lastToken: expectUint(lastToken, 'lock snapshot.lastToken'),
          clockMs: expectUint(clockMs, 'lock snapshot.clockMs'),
          locks: new Map(),
        }
        let previous: string | null = null
        for (const row of expectArray(rows, 'lock snapshot.locks', Number.MAX_SAFE_INTEGER)) {
          const [name, holder, token, expiresAtMs] = expectArray(row, 'lock snapshot.lock', 4)
          const key = lockName(name, 'lock snapshot.name')
          if (previous !== null && !(previous < key)) {
            throw new DecodeError('MALFORMED', 'lock snapshot names are not strictly sorted')
          }
          previous = key
          state.locks.set(key, {
            owner: owner(holder, 'lock snapshot.owner'),
            fencingToken: expectUint(token, 'lock snapshot.fencingToken', state.lastToken),
            expiresAtMs: expectUint(expiresAtMs, 'lock snapshot.expiresAtMs'),
          })
        }
        return state
      },
    },
    options,
  )
}

export type LockMachineType = ReturnType<typeof lockService>
