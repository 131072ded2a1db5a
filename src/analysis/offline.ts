// `meshctl analyze --config-dir`: the same analysis meshd runs on every push,
// over a directory of YAML read as meshd reads it, with file and line for
// every message.
import { pino } from 'pino';
import type { SourceEvent } from '../model/kube.js';
import { MeshModel } from '../model/meshModel.js';
import { PushContext, defaultPushContextOptions } from '../push/pushContext.js';
import { kindValidators } from '../security/validation.js';
import { FileSource } from '../sources/files/fileSource.js';
import { analyzeMesh } from './index.js';
import type { AnalysisMessage } from './messages.js';

export async function analyzeConfigDir(dir: string): Promise<AnalysisMessage[]> {
  const logger = pino({ level: 'silent' });
  const events: SourceEvent[] = [];
  const source = new FileSource({ dir, logger, watch: false, rescanMs: 0 });
  await source.start((batch) => events.push(...batch));
  await source.stop();
  const model = new MeshModel({ logger, validators: kindValidators });
  model.apply(events);
  const context = new PushContext(model.snapshot(), defaultPushContextOptions);
  return analyzeMesh(context, model.currentRejections(), source.problems);
}
