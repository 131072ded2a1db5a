// IST0106 for each document of a --config-dir file that does not parse, at
// its file and line, saying what meshd serves meanwhile. The same messages in
// meshd's analysis (logs, /debug/analyze) and in `meshctl analyze --config-dir`.
import { refText } from '../model/kube.js';
import type { FileProblem } from '../sources/files/fileSource.js';
import { message, type AnalysisMessage } from './messages.js';

export function fileProblemMessages(problems: readonly FileProblem[]): AnalysisMessage[] {
  return problems.map((p) =>
    message(
      'SchemaValidationError',
      { kind: 'File', namespace: '', name: p.file, origin: { file: p.file, line: p.line } },
      `Schema validation error: ${p.reason}`,
      p.kept.length > 0
        ? `fix the YAML document; until the file parses, meshd keeps serving the last valid version of ${p.kept.map(refText).join(', ')}`
        : 'fix the YAML document; meshd skips it and loads the rest of the file',
    ),
  );
}
