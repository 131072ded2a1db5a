// Runs every analyzer over a push context (plus the model's rejections).
import type { Rejection } from '../model/meshModel.js';
import type { PushContext } from '../push/pushContext.js';
import { allAnalyzers, schemaRejections } from './analyzers.js';
import { sortMessages, type AnalysisMessage } from './messages.js';

export function analyzeMesh(context: PushContext, rejections: readonly Rejection[] = []): AnalysisMessage[] {
  return sortMessages([...allAnalyzers.flatMap((a) => a(context)), ...schemaRejections(rejections)]);
}

export { formatMessage, messageKey, type AnalysisMessage } from './messages.js';
