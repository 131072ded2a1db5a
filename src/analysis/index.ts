// Runs every analyzer over a push context (plus the model's rejections and the
// documents of config files that do not parse).
import type { Rejection } from '../model/meshModel.js';
import type { PushContext } from '../push/pushContext.js';
import type { FileProblem } from '../sources/files/fileSource.js';
import { allAnalyzers, schemaRejections } from './analyzers.js';
import { fileProblemMessages } from './fileProblems.js';
import { sortMessages, type AnalysisMessage } from './messages.js';

export function analyzeMesh(context: PushContext, rejections: readonly Rejection[] = [], fileProblems: readonly FileProblem[] = []): AnalysisMessage[] {
  return sortMessages([...allAnalyzers.flatMap((a) => a(context)), ...schemaRejections(rejections), ...fileProblemMessages(fileProblems)]);
}

export { formatMessage, messageKey, type AnalysisMessage } from './messages.js';
