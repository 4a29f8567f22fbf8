import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import schemaJson from '../../../media/airflow-runtime.schema.json';
import { parseDuration, parseSize } from './units';

/** The runtime-file JSON Schema in media/: the one source for validation, completion and hover docs. */
export const runtimeSchema = schemaJson as JsonSchema;

export interface JsonSchema {
  title?: string;
  description?: string;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  default?: unknown;
  examples?: unknown[];
  required?: string[];
  format?: string;
  pattern?: string;
}

let validator: ValidateFunction | undefined;

/** Compiled once, on first use: Ajv's compile is the slow part. */
export function validateAgainstSchema(value: unknown): ErrorObject[] {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: false });
    // Formats check strings; numbers are held positive by the schema's exclusiveMinimum.
    ajv.addFormat('duration', { type: 'string', validate: (v: string) => parseDuration(v) !== undefined });
    ajv.addFormat('size', { type: 'string', validate: (v: string) => parseSize(v) !== undefined });
    validator = ajv.compile(runtimeSchema);
  }
  validator(value);
  return validator.errors ? [...validator.errors] : [];
}

/** The schema of the value at a key path (`['timeouts', 'parse']`, `['mounts', 0, 'source']`), if the schema names it. */
export function schemaAt(keyPath: readonly (string | number)[]): JsonSchema | undefined {
  let node: JsonSchema | undefined = runtimeSchema;
  for (const key of keyPath) {
    if (!node) return undefined;
    if (typeof key === 'number') node = node.items;
    else node = node.properties?.[key] ?? (typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined);
  }
  return node;
}
