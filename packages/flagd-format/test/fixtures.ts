// Our own flagd documents, written after reading flagd's samples and docs
// (open-feature/flagd: samples/, docs/assets/cheat-sheet-flags.json, the
// targeting reference): the shapes real flagd files use, not copies of them.
export const mappable: Record<string, unknown> = {
  'basic types and states': {
    $schema: 'https://flagd.dev/schema/v0/flags.json',
    flags: {
      'dark-mode': { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on' },
      greeting: { state: 'ENABLED', variants: { hello: 'Hello', hi: 'Hi there' }, defaultVariant: 'hi' },
      'max-items': { state: 'ENABLED', variants: { few: 5, many: 50.5 }, defaultVariant: 'many' },
      theme: { state: 'ENABLED', variants: { light: { bg: '#fff', fg: '#000' }, dark: { bg: '#000', fg: '#eee' } }, defaultVariant: 'dark' },
      'old-banner': { state: 'DISABLED', variants: { a: 'A', b: 'B' }, defaultVariant: 'a' },
      'legacy-switch': { state: 'DISABLED', variants: { on: true, off: false }, defaultVariant: 'on' },
    },
    metadata: { flagSetId: 'web', version: '7' },
  },
  'targeting with nested ifs, lists, strings and evaluators': {
    flags: {
      'color-by-country': {
        state: 'ENABLED', variants: { red: '#f00', green: '#0f0', blue: '#00f' }, defaultVariant: 'red',
        targeting: { if: [{ in: [{ var: 'country' }, ['US', 'CA']] }, 'blue', { if: [{ '==': [{ var: 'country' }, 'DE'] }, 'green', null] }] },
        metadata: { owner: 'growth' },
      },
      'tier-features': {
        state: 'ENABLED', variants: { basic: 'b', premium: 'p', enterprise: 'e' }, defaultVariant: 'basic',
        targeting: { if: [{ '===': [{ var: 'tier' }, 'enterprise'] }, 'enterprise', { '===': [{ var: 'tier' }, 'premium'] }, 'premium'] },
      },
      'staff-preview': {
        state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off',
        targeting: { if: [{ $ref: 'isStaff' }, 'on', null] },
      },
      'not-staff': {
        state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off',
        targeting: { if: [{ '!': { $ref: 'isStaff' } }, 'on', 'off'] },
      },
      'email-domains': {
        state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off',
        targeting: { if: [{ or: [{ ends_with: [{ var: 'email' }, '@example.com'] }, { starts_with: [{ var: 'email' }, 'admin'] }] }, 'on', null] },
      },
      'not-faas': {
        state: 'ENABLED', variants: { yes: 'y', no: 'n' }, defaultVariant: 'no',
        targeting: { if: [{ '!': { in: ['@faas.com', { var: ['email'] }] } }, 'yes', 'no'] },
      },
      'beta-users': {
        state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off',
        targeting: { if: [{ and: [{ var: 'beta' }, { '!=': [{ var: 'plan' }, 'free'] }] }, 'on'] },
      },
      'needs-email': {
        state: 'ENABLED', variants: { yes: 'y', no: 'n' }, defaultVariant: 'no',
        targeting: { if: [{ missing: ['email'] }, 'yes', 'no'] },
      },
      'not-admin-prefix': {
        state: 'ENABLED', variants: { yes: 'y', no: 'n' }, defaultVariant: 'no',
        targeting: { if: [{ '!': { starts_with: [{ var: 'email' }, 'adm'] } }, 'yes', { '!': { ends_with: [{ var: 'email' }, '.org'] } }, 'no'] },
      },
    },
    $evaluators: {
      isStaff: { and: [{ in: ['@corp.example', { var: 'email' }] }, { '!==': [{ var: 'plan' }, 'free'] }] },
    },
  },
  'numbers and versions': {
    flags: {
      'age-gate': {
        state: 'ENABLED', variants: { kid: 'k', adult: 'a' }, defaultVariant: 'adult',
        targeting: { if: [{ '<': [{ var: 'age' }, 18] }, 'kid', 'adult'] },
      },
      'score-band': {
        state: 'ENABLED', variants: { low: 1, mid: 2, high: 3 }, defaultVariant: 'low',
        targeting: { if: [{ '<=': [10, { var: 'score' }, 50] }, 'mid', { '>': [{ var: 'score' }, 50] }, 'high', 'low'] },
      },
      'zero-score': {
        state: 'ENABLED', variants: { zero: true, other: false }, defaultVariant: 'other',
        targeting: { if: [{ '==': [{ var: 'score' }, 0] }, 'zero', 'other'] },
      },
      'new-ui': {
        state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off',
        targeting: { if: [{ sem_ver: [{ var: 'version' }, '>=', '2.6'] }, 'on', { sem_ver: [{ var: 'version' }, '^', '1.4.0'] }, 'on', 'off'] },
      },
      'exact-version': {
        state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off',
        targeting: { if: [{ sem_ver: [{ var: 'version' }, '~', 'v2.1.0'] }, 'on', { sem_ver: [{ var: 'version' }, '!=', '1.0.0'] }, 'off', 'on'] },
      },
      'not-older': {
        state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on',
        targeting: { if: [{ '!': { sem_ver: [{ var: 'version' }, '<', '2.0.0'] } }, 'on', 'off'] },
      },
    },
  },
  'rollouts': {
    flags: {
      'checkout-split': {
        state: 'ENABLED', variants: { red: 'r', green: 'g', blue: 'b' }, defaultVariant: 'red',
        targeting: { fractional: [['red', 50], ['green', 30], ['blue', 20]] },
      },
      'by-email': {
        state: 'ENABLED', variants: { a: 'A', b: 'B', c: 'C', d: 'D' }, defaultVariant: 'a',
        targeting: { if: [{ $ref: 'isStaff' }, { fractional: [{ cat: [{ var: '$flagd.flagKey' }, { var: 'email' }] }, ['a', 25], ['b', 25], ['c', 25], ['d', 25]] }, null] },
      },
      'equal-split': {
        state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off',
        targeting: { if: [{ in: [{ var: 'country' }, ['DE', 'FR']] }, { fractional: [['on'], ['off']] }, 'off'] },
      },
      'constant-bucket': {
        state: 'ENABLED', variants: { x: 'x', y: 'y' }, defaultVariant: 'x',
        targeting: { fractional: ['everyone-the-same', ['x', 50], ['y', 50]] },
      },
      'with-null-bucket': {
        state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off',
        targeting: { fractional: [['on', 10], [null, 90]] },
      },
    },
    $evaluators: { isStaff: { in: ['@corp.example', { var: 'email' }] } },
  },
};

/** Each with the path of the construct that cannot be mapped. */
export const unmappable: { name: string; doc: unknown; path: string; alsoImported?: string[] }[] = [
  { name: 'time-based targeting', path: 'flags.t.targeting.if[0].>[0]', doc: { flags: { t: { state: 'ENABLED', variants: { a: 'a', b: 'b' }, defaultVariant: 'a', targeting: { if: [{ '>': [{ var: '$flagd.timestamp' }, 1700000000] }, 'b', 'a'] } }, ok: { state: 'ENABLED', variants: { on: true }, defaultVariant: 'on' } } }, alsoImported: ['ok'] },
  { name: 'substring of a literal', path: 'flags.s.targeting.if[0].in', doc: { flags: { s: { state: 'ENABLED', variants: { a: 'a' }, defaultVariant: 'a', targeting: { if: [{ in: [{ var: 'x' }, 'abcdef'] }, 'a', null] } } } } },
  { name: 'var with a default', path: 'flags.d.targeting.if[0].==[0]', doc: { flags: { d: { state: 'ENABLED', variants: { a: 'a' }, defaultVariant: 'a', targeting: { if: [{ '==': [{ var: ['x', 'dflt'] }, 'y'] }, 'a', null] } } } } },
  { name: 'string order comparison', path: 'flags.o.targeting.if[0].<', doc: { flags: { o: { state: 'ENABLED', variants: { a: 'a' }, defaultVariant: 'a', targeting: { if: [{ '<': [{ var: 'x' }, 'm'] }, 'a', null] } } } } },
  { name: 'computed variant', path: 'flags.c.targeting', doc: { flags: { c: { state: 'ENABLED', variants: { a: 'a' }, defaultVariant: 'a', targeting: { cat: ['a', ''] } } } } },
  { name: 'bucketing without the flag key', path: 'flags.f.targeting.fractional[0]', doc: { flags: { f: { state: 'ENABLED', variants: { a: 'a', b: 'b' }, defaultVariant: 'a', targeting: { fractional: [{ var: 'email' }, ['a', 1], ['b', 1]] } } } } },
  { name: 'mixed variant types', path: 'flags.m.variants', doc: { flags: { m: { state: 'ENABLED', variants: { a: 'a', b: 1 }, defaultVariant: 'a' } } } },
  { name: 'no default variant', path: 'flags.n.defaultVariant', doc: { flags: { n: { state: 'ENABLED', variants: { a: 'a' }, defaultVariant: null } } } },
  { name: 'a key flagraft cannot hold', path: 'flags.my flag', doc: { flags: { 'my flag': { state: 'ENABLED', variants: { a: 'a' }, defaultVariant: 'a' } } } },
  { name: 'targeting that answers no variant', path: 'flags.v.targeting.if[1]', doc: { flags: { v: { state: 'ENABLED', variants: { a: 'a' }, defaultVariant: 'a', targeting: { if: [true, 'zzz', 'a'] } } } } },
  { name: 'an unknown operator', path: 'flags.u.targeting.if[0].some', doc: { flags: { u: { state: 'ENABLED', variants: { a: 'a' }, defaultVariant: 'a', targeting: { if: [{ some: [{ var: 'xs' }, { '==': [{ var: '' }, 1] }] }, 'a', null] } } } } },
];
