// Parses one multi-document YAML file into Kubernetes objects with file+line
// origins. Malformed documents become problems naming file, line and reason;
// the other documents of the file still load.
import { LineCounter, parseAllDocuments } from 'yaml';
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

export function parseManifests(file: string, text: string): ParsedFile {
  const lineCounter = new LineCounter();
  const objects: ParsedObject[] = [];
  const problems: ManifestProblem[] = [];
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [];
  for (const doc of list) {
    // The document's first content line, not its `---` marker.
    const start = doc.contents?.range?.[0] ?? doc.range[0];
    const line = lineCounter.linePos(start).line || 1;
    if (doc.errors.length > 0) {
      problems.push({ file, line, reason: doc.errors[0]!.message.split('\n')[0]! });
      continue;
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) continue; // empty document between separators
    const problem = objectShapeProblem(value);
    if (problem) {
      problems.push({ file, line, reason: problem });
      continue;
    }
    // A `List` (kubectl get -o yaml) carries its objects under items.
    const object = value as KubeObject;
    objects.push({ object, origin: { file, line } });
  }
  return { objects, problems };
}
