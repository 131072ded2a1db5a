// PEM framing (RFC 7468): base64 DER between BEGIN/END lines. Parsed with
// indexOf scans so hostile input (many BEGIN lines, no END) stays linear.

export interface PemBlock {
  type: string;
  der: Buffer;
}

const beginMarker = '-----BEGIN ';
const dashes = '-----';
const base64Body = /^[A-Za-z0-9+/=\s]*$/;
const labelPattern = /^[A-Z0-9 ]{1,64}$/;

/** Every PEM block in the text, in order; text outside blocks is ignored. Throws on a broken block. */
export function decodePemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  let from = 0;
  for (;;) {
    const begin = text.indexOf(beginMarker, from);
    if (begin < 0) return blocks;
    const labelEnd = text.indexOf(dashes, begin + beginMarker.length);
    if (labelEnd < 0) throw new Error('PEM BEGIN line is not terminated');
    const type = text.slice(begin + beginMarker.length, labelEnd);
    if (!labelPattern.test(type)) throw new Error('PEM BEGIN line has an invalid label');
    const endLine = `-----END ${type}-----`;
    const bodyStart = labelEnd + dashes.length;
    const end = text.indexOf(endLine, bodyStart);
    if (end < 0) throw new Error(`PEM ${type} block has no END line`);
    const body = text.slice(bodyStart, end);
    if (!base64Body.test(body)) throw new Error(`PEM ${type} block has a body that is not base64`);
    blocks.push({ type, der: Buffer.from(body.replace(/\s+/g, ''), 'base64') });
    from = end + endLine.length;
  }
}

export function encodePem(type: string, der: Buffer): string {
  const b64 = der.toString('base64');
  let out = `-----BEGIN ${type}-----\n`;
  for (let i = 0; i < b64.length; i += 64) out += `${b64.slice(i, i + 64)}\n`;
  return `${out}-----END ${type}-----\n`;
}
