// Placeholder until the linear-time engine lands.
export interface SafeRegex { test(input: string): boolean }
export function compileSafeRegex(_pattern: string): SafeRegex | string {
  return 'the matches operator is not supported yet';
}
