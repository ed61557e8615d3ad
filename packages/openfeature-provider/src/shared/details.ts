// One evaluation answer -> OpenFeature resolution details, shared by the
// server provider (answers from flag-model) and the web provider (answers from
// OFREP). Errors are returned as `errorCode` (the SDKs turn them into error
// details with the caller's default), never thrown: throwing loses the flag
// metadata.
//
// Semantics follow OFREP, so a flag answers alike in-process and remotely:
// - no `value` (a disabled non-boolean flag without offVariant, OFREP
//   ADR-0006): the caller's default, with the flag's reason and variant;
// - a value whose JSON type differs from the default's: TYPE_MISMATCH.
//   (Objects: the default must be an object too; arrays are not objects here,
//   flag-model's object flags are JSON objects.)

/** The evaluation answer as flag-model returns it and OFREP sends it. */
export interface Answer {
  key: string;
  value?: unknown;
  variant?: string;
  reason?: string;
  errorCode?: string;
  errorDetails?: string;
  metadata?: Record<string, unknown>;
}

/** OpenFeature's ResolutionDetails, structurally (both SDKs accept it). */
export interface Resolution<T> {
  value: T;
  variant?: string;
  reason?: string;
  errorCode?: string;
  errorMessage?: string;
  flagMetadata?: Record<string, string | number | boolean>;
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

const NO_METADATA: Record<string, string | number | boolean> = Object.freeze({}) as Record<string, string | number | boolean>;

/** Only string, number and boolean metadata values are OpenFeature flag metadata. */
export function flagMetadataOf(metadata: Record<string, unknown> | undefined): Record<string, string | number | boolean> {
  if (!metadata) return NO_METADATA;
  let out: Record<string, string | number | boolean> | undefined;
  for (const k in metadata) {
    const v = metadata[k];
    // defineProperty: a key "__proto__" from the wire stays a key (an assignment would hit the prototype setter).
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') Object.defineProperty((out ??= {}), k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out ?? NO_METADATA;
}

export function toResolution<T>(answer: Answer, defaultValue: T): Resolution<T> {
  const flagMetadata = flagMetadataOf(answer.metadata);
  if (answer.errorCode !== undefined) {
    return { value: defaultValue, reason: 'ERROR', errorCode: answer.errorCode, errorMessage: answer.errorDetails, flagMetadata };
  }
  if (answer.value === undefined) return { value: defaultValue, variant: answer.variant, reason: answer.reason, flagMetadata };
  const want = jsonType(defaultValue);
  const got = jsonType(answer.value);
  if (want !== got) {
    return { value: defaultValue, reason: 'ERROR', errorCode: 'TYPE_MISMATCH', errorMessage: `flag ${answer.key} is of type ${got}, the default is of type ${want}`, flagMetadata };
  }
  return { value: answer.value as T, variant: answer.variant, reason: answer.reason, flagMetadata };
}
