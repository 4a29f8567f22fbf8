import { type JsonSchema, runtimeSchema, schemaAt } from './schema';

/**
 * Completion and hover for runtime files, from the schema. Works on the text line by line (indentation and
 * `- ` list items), because a file being typed is rarely valid YAML at the moment completion is asked for.
 */

export interface CursorContext {
  /** Key path of the mapping the cursor is in (list items as 0). */
  parentPath: (string | number)[];
  /** `key`: typing a key; `value`: typing the value of `key`. */
  position: 'key' | 'value';
  key?: string;
  /** What is already typed of the key or value. */
  prefix: string;
  /** Keys already present in the same mapping. */
  siblings: string[];
  /** Column (0-based) where the key starts on the cursor's line. */
  keyColumn: number;
}

export interface Suggestion {
  label: string;
  kind: 'property' | 'value';
  insertText: string;
  detail?: string;
  documentation: string;
  isDefault?: boolean;
}

interface LineShape {
  indent: number;
  dash: boolean;
  /** Column of the key (after a `- `). */
  keyIndent: number;
  key?: string;
  /** Text after `key:`, trimmed, without a trailing comment. */
  value?: string;
  blank: boolean;
}

const KEY_LINE = /^(\s*)(-\s+)?(?:(["']?)([\w.-]+)\3\s*:(?:\s+|$)(.*))?/;

function shapeOf(line: string): LineShape {
  const match = KEY_LINE.exec(line)!;
  const indent = match[1].length;
  const dash = !!match[2];
  const rest = line.slice(indent + (match[2]?.length ?? 0));
  const blank = rest.trim() === '' || rest.trimStart().startsWith('#');
  return {
    indent, dash, keyIndent: indent + (match[2]?.length ?? 0), key: match[4], blank: blank && !dash,
    value: match[4] !== undefined ? (match[5] ?? '').replace(/\s+#.*$/, '').trim() : undefined,
  };
}

/** Where the cursor is, in terms of the schema. `line` and `character` are 0-based. */
export function cursorContext(text: string, line: number, character: number): CursorContext | undefined {
  const lines = text.split(/\r?\n/);
  const before = (lines[line] ?? '').slice(0, character);
  if (before.trimStart().startsWith('#')) return undefined;
  const keyTyping = /^(\s*)(-\s+)?([\w.-]*)$/.exec(before);
  const valueTyping = /^(\s*)(-\s+)?(["']?)([\w.-]+)\3\s*:\s*(.*)$/.exec(before);
  let indent: number;
  let dash: boolean;
  let position: 'key' | 'value';
  let key: string | undefined;
  let prefix: string;
  if (keyTyping) {
    indent = keyTyping[1].length;
    dash = !!keyTyping[2];
    position = 'key';
    prefix = keyTyping[3];
  } else if (valueTyping) {
    indent = valueTyping[1].length;
    dash = !!valueTyping[2];
    position = 'value';
    key = valueTyping[4];
    prefix = valueTyping[5].replace(/^["']/, '');
  } else {
    return undefined;
  }
  const keyColumn = indent + (dash ? (keyTyping?.[2] ?? valueTyping![2]).length : 0);
  const { parentPath, siblings } = enclosing(lines, line, keyColumn, dash ? indent : undefined);
  return { parentPath, position, key, prefix, siblings: siblings.filter((s) => s !== key), keyColumn };
}

/** The key path above a key at `keyColumn` on `line`, and the keys beside it. */
function enclosing(lines: string[], line: number, keyColumn: number, itemDashColumn?: number): { parentPath: (string | number)[]; siblings: string[] } {
  const parentPath: (string | number)[] = [];
  const siblings = new Set<string>();
  let target = keyColumn;
  let inItem = itemDashColumn !== undefined;
  let collecting = true;
  if (inItem) {
    parentPath.unshift(0);
    target = itemDashColumn!;
  }
  // Keys after the cursor in the same mapping count as present too.
  for (let n = line + 1; n < lines.length; n++) {
    const shape = shapeOf(lines[n]);
    if (shape.blank) continue;
    if (shape.keyIndent < keyColumn || (shape.dash && shape.indent <= keyColumn && !inItem) || (inItem && shape.dash && shape.indent === itemDashColumn)) break;
    if (shape.keyIndent === keyColumn && shape.key) siblings.add(shape.key);
  }
  for (let n = line - 1; n >= 0; n--) {
    const shape = shapeOf(lines[n]);
    if (shape.blank) continue;
    if (collecting && shape.keyIndent === keyColumn && shape.key) siblings.add(shape.key);
    if (!inItem && shape.dash && shape.keyIndent === target && shape.indent < target) {
      // The mapping is a list item that started on this line.
      collecting = false;
      parentPath.unshift(0);
      target = shape.indent;
      inItem = true;
      continue;
    }
    if (inItem && shape.dash && shape.indent === itemDashColumn) collecting = false;
    if (shape.keyIndent < target && shape.key && !shape.value) {
      collecting = false;
      parentPath.unshift(shape.key);
      target = shape.keyIndent;
      inItem = false;
      if (shape.dash) {
        parentPath.unshift(0);
        target = shape.indent;
        inItem = true;
        itemDashColumn = shape.indent;
      }
      if (target === 0) break;
    } else if (shape.indent < target) {
      collecting = false;
    }
  }
  return { parentPath, siblings: [...siblings] };
}

/** Keys of the mapping at the cursor, or the values its key takes. */
export function suggestionsAt(text: string, line: number, character: number): Suggestion[] {
  const context = cursorContext(text, line, character);
  if (!context) return [];
  if (context.position === 'key') {
    const schema = schemaAt(context.parentPath);
    if (!schema?.properties) return [];
    return Object.entries(schema.properties)
      .filter(([name]) => !context.siblings.includes(name))
      .map(([name, property]) => ({
        label: name, kind: 'property' as const, detail: property.title,
        insertText: `${name}:${isContainer(property) ? '' : ' '}`,
        documentation: documentationOf(property),
      }));
  }
  const schema = schemaAt([...context.parentPath, context.key!]);
  if (!schema) return [];
  const values = new Map<string, Suggestion>();
  const add = (value: unknown, why: string) => {
    if (value === null || typeof value === 'object') return;
    const label = String(value);
    if (values.has(label)) return;
    values.set(label, { label, kind: 'value', insertText: label, detail: why, documentation: documentationOf(schema), isDefault: value === schema.default });
  };
  if (schema.default !== undefined) add(schema.default, 'default');
  schema.enum?.forEach((value) => add(value, 'allowed value'));
  if (typesOf(schema).includes('boolean')) { add(true, 'boolean'); add(false, 'boolean'); }
  schema.examples?.forEach((value) => add(value, 'example'));
  return [...values.values()];
}

/** Documentation for the key under the cursor (or whose value the cursor is on), in Markdown. */
export function hoverAt(text: string, line: number, character: number): { markdown: string; start: number; end: number } | undefined {
  const lineText = text.split(/\r?\n/)[line] ?? '';
  const match = /^(\s*)(-\s+)?(["']?)([\w.-]+)\3\s*:/.exec(lineText);
  if (!match) return undefined;
  const start = match[1].length + (match[2]?.length ?? 0) + match[3].length;
  const end = start + match[4].length;
  if (character < start) return undefined;
  const context = cursorContext(text, line, end);
  if (!context) return undefined;
  const keyPath = [...context.parentPath, match[4]];
  const schema = schemaAt(keyPath);
  if (!schema) return undefined;
  const parent = schemaAt(context.parentPath);
  const free = !parent?.properties?.[match[4]];
  const heading = free ? `\`${keyPath.join('.')}\`` : `**${schema.title ?? match[4]}** \`${keyPath.join('.')}\``;
  return { markdown: `${heading}\n\n${documentationOf(free && parent ? parent : schema)}`, start, end };
}

/** The schema's description, default and examples, in Markdown. */
export function documentationOf(schema: JsonSchema): string {
  const parts = [schema.description ?? ''];
  if (schema.enum) parts.push(`Allowed: ${schema.enum.map((v) => `\`${String(v)}\``).join(', ')}`);
  if (schema.default !== undefined && typeof schema.default !== 'object') parts.push(`Default: \`${String(schema.default)}\``);
  const examples = (schema.examples ?? []).filter((e) => typeof e !== 'object');
  if (examples.length) parts.push(`Examples: ${examples.map((e) => `\`${String(e)}\``).join(', ')}`);
  return parts.filter(Boolean).join('\n\n');
}

function typesOf(schema: JsonSchema): string[] {
  return Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
}

function isContainer(schema: JsonSchema): boolean {
  return typesOf(schema).some((t) => t === 'object' || t === 'array');
}

/** The schema's top-level description, for the template's header. */
export const RUNTIME_FILE_DESCRIPTION = runtimeSchema.description ?? '';
