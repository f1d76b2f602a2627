/**
 * Errors with stable codes. Pure code returns problems as values (`Issue`); adapters throw
 * `NfqwallError`. Every code is listed in docs/errors.md.
 */

/** Where a problem is: a file, a 1-based line and column, and a field path such as `spec.ingress[0].protocol`. */
export interface SourceLocation {
  file: string;
  line: number;
  column?: number;
  path?: string;
}

/** One problem found in user input (configuration, host model, packet description). */
export interface Issue {
  code: string;
  message: string;
  location: SourceLocation;
  severity: 'error' | 'warning';
}

export class NfqwallError extends Error {
  readonly code: string;
  readonly location: SourceLocation | undefined;
  constructor(code: string, message: string, options: { location?: SourceLocation; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NfqwallError';
    this.code = code;
    this.location = options.location;
  }
}

/** `file:line:column: path: message [CODE]` — the one format every tool prints. */
export function formatIssue(issue: Issue): string {
  const loc = issue.location;
  const where = `${loc.file}:${loc.line}${loc.column !== undefined ? `:${loc.column}` : ''}`;
  const path = loc.path ? ` ${loc.path}:` : '';
  return `${where}:${path} ${issue.severity}: ${issue.message} [${issue.code}]`;
}
