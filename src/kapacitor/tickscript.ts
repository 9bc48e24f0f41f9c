/**
 * What `kapacitor sync` needs to know about a TICKscript without asking Kapacitor: its type (stream or batch, required
 * to define a template) and the type of each declared var (required to send a var's value). Pure; loadTemplates is the
 * only function here that touches the disk.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

export type TaskType = 'stream' | 'batch';
export type VarType = 'string' | 'int' | 'float' | 'bool' | 'duration' | 'lambda' | 'regex' | 'list' | 'star';

export interface LocalTemplate {
  id: string;
  type: TaskType;
  script: string;
  file: string;
  vars: Record<string, VarType>;
  /** The default value of each var declared with a string literal (`var query = 'SELECT …'`), unquoted. */
  stringDefaults?: Record<string, string>;
}

/** Every `*.tick` in `dir`, sorted by name; the template ID is the file name without `.tick`. */
export function loadTemplates(dir: string): LocalTemplate[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.tick'))
    .sort()
    .map((f) => {
      const file = join(dir, f);
      const script = readFileSync(file, 'utf8');
      return { id: basename(f, '.tick'), type: scriptType(script, file), script, file, vars: declaredVars(script), stringDefaults: stringDefaults(script) };
    });
}

const STRING_OR_COMMENT = /'(?:[^'\\\n]|\\.)*'|\/\/[^\n]*/g;

/** Without `//` comments; one pass, so an apostrophe in a comment or `//` in a string is read as what it is. */
function withoutComments(script: string): string {
  return script.replace(STRING_OR_COMMENT, (m) => (m.startsWith('//') ? '' : m));
}

/** Without comments and with string literals emptied, so a `stream` inside either does not count. */
function code(script: string): string {
  return script.replace(STRING_OR_COMMENT, (m) => (m.startsWith('//') ? '' : "''"));
}

/** The UDFs a script calls (`@edgeDetect()` → edgeDetect), comments and strings left out. */
export function udfCalls(script: string): string[] {
  return [...new Set([...code(script).matchAll(/@(\w+)\s*\(/g)].map((m) => m[1]))];
}

export function scriptType(script: string, file = '(script)'): TaskType {
  const c = code(script);
  const stream = /(^|[^\w.])stream\s*\|/m.test(c);
  const batch = /(^|[^\w.])batch\s*\|/m.test(c);
  if (stream === batch) throw new Error(`${file}: cannot tell whether this is a stream or a batch script (found ${stream ? 'both' : 'neither'})`);
  return stream ? 'stream' : 'batch';
}

const DECLARED = /^\s*var\s+(\w+)\s+(string|int|float|bool|duration|lambda|regex|list)\s*$/;
const ASSIGNED = /^\s*var\s+(\w+)\s*=\s*(.+?)\s*$/;

/** `var x TYPE` gives the type; `var x = literal` implies it (5m → duration, 'a' → string, 10 → int, [*] → list, …). */
export function declaredVars(script: string): Record<string, VarType> {
  const vars: Record<string, VarType> = {};
  for (const line of withoutComments(script).split('\n')) {
    const declared = DECLARED.exec(line);
    if (declared) {
      vars[declared[1]] = declared[2] as VarType;
      continue;
    }
    const assigned = ASSIGNED.exec(line);
    if (assigned) {
      const type = literalType(assigned[2]);
      if (type) vars[assigned[1]] = type;
    }
  }
  return vars;
}

/** `var x = 'text'` → x: text (TICKscript escapes \' and \\ in single-quoted strings). */
export function stringDefaults(script: string): Record<string, string> {
  const defaults: Record<string, string> = {};
  for (const line of withoutComments(script).split('\n')) {
    const m = /^\s*var\s+(\w+)\s*=\s*'((?:[^'\\]|\\.)*)'\s*$/.exec(line);
    if (m) defaults[m[1]] = m[2].replace(/\\(.)/g, '$1');
  }
  return defaults;
}

function literalType(v: string): VarType | undefined {
  if (/^'/.test(v)) return 'string';
  if (/^(TRUE|FALSE)$/.test(v)) return 'bool';
  if (/^lambda:/.test(v)) return 'lambda';
  if (/^\//.test(v)) return 'regex';
  if (/^\[/.test(v)) return 'list';
  if (/^\*$/.test(v)) return 'star';
  if (/^-?\d+(\.\d+)?(ns|u|µ|ms|s|m|h|d|w)$/.test(v) || /^(-?\d+(ns|u|µ|ms|s|m|h|d|w))+$/.test(v)) return 'duration';
  if (/^-?\d+$/.test(v)) return 'int';
  if (/^-?\d*\.\d+$/.test(v)) return 'float';
  return undefined;
}
