// Parses one multi-document YAML file into Kubernetes objects with file+line
// origins. Malformed documents become problems naming file, line and reason;
// the other documents of the file still load. Nothing in the text can make it
// throw: a YAML error, an alias bomb (`Excessive alias count`) or any other
// conversion failure is one problem at the document's line.
import { LineCounter, isMap, isSeq, parseAllDocuments, type Document, type Node } from 'yaml';
import type { KubeObject, ObjectOrigin } from '../../model/kube.js';

export interface ParsedObject {
  object: KubeObject;
  origin: ObjectOrigin;
}

export interface ManifestProblem {
  file: string;
  line: number;
  reason: string;
}

export interface ParsedFile {
  objects: ParsedObject[];
  problems: ManifestProblem[];
}

/** Aliases a document may expand (the yaml package's guard against "billion laughs" documents). */
const maxAliasCount = 100;

function objectShapeProblem(value: unknown): string | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return 'document is not a mapping';
  const doc = value as Record<string, unknown>;
  if (typeof doc.apiVersion !== 'string' || !doc.apiVersion) return 'apiVersion is missing';
  if (typeof doc.kind !== 'string' || !doc.kind) return 'kind is missing';
  const metadata = doc.metadata as Record<string, unknown> | undefined;
  if (!metadata || typeof metadata !== 'object') return 'metadata is missing';
  if (typeof metadata.name !== 'string' || !metadata.name) return 'metadata.name is missing';
  if (metadata.namespace !== undefined && typeof metadata.namespace !== 'string') return 'metadata.namespace must be a string';
  return undefined;
}

/** The yaml package's messages end their first line with `:` before a source excerpt. */
const firstLine = (text: string): string => text.split('\n')[0]!.replace(/:$/, '');

/** As kubectl reads lists: `kind: List`, or any `…List` kind, with an `items` array. */
function isList(value: unknown): value is { apiVersion?: unknown; kind: string; items: unknown[] } {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const doc = value as Record<string, unknown>;
  return typeof doc.kind === 'string' && doc.kind.endsWith('List') && Array.isArray(doc.items);
}

export function parseManifests(file: string, text: string): ParsedFile {
  const lineCounter = new LineCounter();
  const objects: ParsedObject[] = [];
  const problems: ManifestProblem[] = [];
  const lineOf = (node: Node | null | undefined, fallback: number): number => (node?.range ? lineCounter.linePos(node.range[0]).line || fallback : fallback);

  /** One object, or a list's items (nested lists included), each at its own line. */
  const add = (value: unknown, node: Node | null | undefined, line: number): void => {
    if (isList(value)) {
      const itemNodes = isMap(node) ? node.get('items', true) : undefined;
      const itemKind = value.kind.slice(0, -'List'.length);
      value.items.forEach((item, i) => {
        const itemNode = isSeq(itemNodes) ? (itemNodes.items[i] as Node | undefined) : undefined;
        // A typed list (ServiceList) may leave kind and apiVersion off its items: they are the list's.
        const typed =
          item && typeof item === 'object' && !Array.isArray(item) && !('kind' in item) && !('apiVersion' in item) && itemKind
            ? { apiVersion: value.apiVersion, kind: itemKind, ...item }
            : item;
        add(typed, itemNode, lineOf(itemNode, line));
      });
      return;
    }
    const problem = objectShapeProblem(value);
    if (problem) {
      problems.push({ file, line, reason: problem });
      return;
    }
    objects.push({ object: value as KubeObject, origin: { file, line } });
  };

  let docs: Array<Document.Parsed>;
  try {
    const parsed = parseAllDocuments(text, { lineCounter, uniqueKeys: true });
    docs = Array.isArray(parsed) ? parsed : [];
  } catch (error) {
    return { objects, problems: [{ file, line: 1, reason: (error as Error).message }] };
  }
  for (const doc of docs) {
    // The document's first content line, not its `---` marker.
    const line = lineCounter.linePos(doc.contents?.range?.[0] ?? doc.range[0]).line || 1;
    if (doc.errors.length > 0) {
      problems.push({ file, line, reason: firstLine(doc.errors[0]!.message) });
      continue;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount });
    } catch (error) {
      problems.push({ file, line, reason: firstLine((error as Error).message) });
      continue;
    }
    if (value === null || value === undefined) continue; // empty document between separators
    add(value, doc.contents, line);
  }
  return { objects, problems };
}
