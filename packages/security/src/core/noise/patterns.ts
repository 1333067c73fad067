/**
 * Handshake patterns as data (Noise revision 34, section 7). A pattern is a list of pre-message
 * tokens per side and a list of messages, each a list of tokens; `initiatorSends` on message i is
 * `i % 2 === 0` for every interactive pattern. The HandshakeState interprets the table, so adding a
 * pattern is adding a row, never a code path.
 */
export type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss'

export interface HandshakePattern {
  readonly name: PatternName
  /** Public keys the initiator's peer knows before the handshake (`-> s` / `-> e` pre-messages). */
  readonly initiatorPreMessage: readonly ('e' | 's')[]
  /** Public keys the responder's peer knows before the handshake (`<- s`). */
  readonly responderPreMessage: readonly ('e' | 's')[]
  readonly messages: readonly (readonly Token[])[]
}

export type PatternName = 'NN' | 'NK' | 'NX' | 'XN' | 'XK' | 'XX' | 'KN' | 'KK' | 'KX' | 'IN' | 'IK' | 'IX'

function pattern(
  name: PatternName,
  initiatorPreMessage: ('e' | 's')[],
  responderPreMessage: ('e' | 's')[],
  messages: Token[][],
): HandshakePattern {
  return Object.freeze({ name, initiatorPreMessage, responderPreMessage, messages })
}

/** The twelve fundamental interactive patterns of section 7.4. */
export const HANDSHAKE_PATTERNS: Readonly<Record<PatternName, HandshakePattern>> = Object.freeze({
  NN: pattern('NN', [], [], [['e'], ['e', 'ee']]),
  NK: pattern(
    'NK',
    [],
    ['s'],
    [
      ['e', 'es'],
      ['e', 'ee'],
    ],
  ),
  NX: pattern('NX', [], [], [['e'], ['e', 'ee', 's', 'es']]),
  XN: pattern('XN', [], [], [['e'], ['e', 'ee'], ['s', 'se']]),
  XK: pattern(
    'XK',
    [],
    ['s'],
    [
      ['e', 'es'],
      ['e', 'ee'],
      ['s', 'se'],
    ],
  ),
  XX: pattern('XX', [], [], [['e'], ['e', 'ee', 's', 'es'], ['s', 'se']]),
  KN: pattern('KN', ['s'], [], [['e'], ['e', 'ee', 'se']]),
  KK: pattern(
    'KK',
    ['s'],
    ['s'],
    [
      ['e', 'es', 'ss'],
      ['e', 'ee', 'se'],
    ],
  ),
  KX: pattern('KX', ['s'], [], [['e'], ['e', 'ee', 'se', 's', 'es']]),
  IN: pattern(
    'IN',
    [],
    [],
    [
      ['e', 's'],
      ['e', 'ee', 'se'],
    ],
  ),
  IK: pattern(
    'IK',
    [],
    ['s'],
    [
      ['e', 'es', 's', 'ss'],
      ['e', 'ee', 'se'],
    ],
  ),
  IX: pattern(
    'IX',
    [],
    [],
    [
      ['e', 's'],
      ['e', 'ee', 'se', 's', 'es'],
    ],
  ),
})

/** Whether the initiator must hold a static key pair for this pattern. */
export function initiatorNeedsStatic(pattern: HandshakePattern): boolean {
  return (
    pattern.initiatorPreMessage.includes('s') ||
    pattern.messages.some((m, i) => i % 2 === 0 && m.includes('s'))
  )
}

/** Whether the responder must hold a static key pair for this pattern. */
export function responderNeedsStatic(pattern: HandshakePattern): boolean {
  return (
    pattern.responderPreMessage.includes('s') ||
    pattern.messages.some((m, i) => i % 2 === 1 && m.includes('s'))
  )
}
