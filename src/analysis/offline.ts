// `meshctl analyze --config-dir`: the same analysis meshd runs on every push,
// over a directory of YAML, with file and line for every message.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import type { SourceEvent } from '../model/kube.js';
import { knownKind } from '../model/kinds.js';
import { MeshModel } from '../model/meshModel.js';
import { PushContext, defaultPushContextOptions } from '../push/pushContext.js';
import { listManifests } from '../sources/files/fileSource.js';
import { parseManifests } from '../sources/files/parseManifests.js';
import { analyzeMesh } from './index.js';
import { message, sortMessages, type AnalysisMessage } from './messages.js';

export async function analyzeConfigDir(dir: string): Promise<AnalysisMessage[]> {
  const events: SourceEvent[] = [];
  const problems: AnalysisMessage[] = [];
  for (const file of await listManifests(dir)) {
    const relative = path.relative(dir, file);
    const parsed = parseManifests(relative, await readFile(file, 'utf8'));
    for (const p of parsed.problems) {
      problems.push(message('SchemaValidationError', { kind: 'File', namespace: '', name: p.file, origin: { file: p.file, line: p.line } },
        `Schema validation error: ${p.reason}`, 'fix the YAML document; meshd skips it and loads the rest'));
    }
    for (const { object, origin } of parsed.objects) {
      if (knownKind(object.apiVersion, object.kind)) events.push({ type: 'upsert', object, origin });
    }
  }
  const model = new MeshModel({ logger: pino({ level: 'silent' }) });
  model.apply(events);
  const context = new PushContext(model.snapshot(), defaultPushContextOptions);
  return sortMessages([...analyzeMesh(context, model.currentRejections()), ...problems]);
}
