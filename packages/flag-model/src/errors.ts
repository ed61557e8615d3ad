import type { ValidationIssue } from './types.js';

/** The only error validateFlag / validateSegment ever throw. */
export class ValidationError extends Error {
  readonly issues: ValidationIssue[];
  constructor(issues: ValidationIssue[], what = 'value') {
    super(`invalid ${what}: ${formatIssues(issues)}`);
    this.name = 'ValidationError';
    this.issues = issues;
  }
}

/** Thrown by decodeCommand for bytes that are not a valid v1 command. */
export class CommandDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandDecodeError';
  }
}

const SHOWN_ISSUES = 5;

export function formatIssues(issues: ValidationIssue[]): string {
  const shown = issues.slice(0, SHOWN_ISSUES).map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
  const more = issues.length > SHOWN_ISSUES ? ` (+${issues.length - SHOWN_ISSUES} more)` : '';
  return shown.join('; ') + more;
}
