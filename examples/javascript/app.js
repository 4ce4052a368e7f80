// A small web app for waci: a page, a JSON endpoint and a log line per request.
//
// GET /          an HTML page
// GET /api/info  JSON: the language, the GREETING env var and the text of the file that
//                MESSAGE_FILE names (default /config/message.txt, a volume's file)
// anything else  404
//
// Each request writes one line to stdout ("GET /api/info 200"), which waci keeps in the
// container's logs.

import { getEnvironment } from 'wasi:cli/environment@0.2.12';
import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';
import { Fields, OutgoingBody, OutgoingResponse, ResponseOutparam } from 'wasi:http/types@0.2.12';

const PAGE = `<!doctype html>
<html>
<head><meta charset="utf-8"><title>JavaScript on waci</title></head>
<body>
<h1>Hello from JavaScript on waci</h1>
<p>SpiderMonkey, compiled into a WebAssembly component by componentize-js.</p>
<p><a href="/api/info">/api/info</a> reads an environment variable and a file from a volume.</p>
</body>
</html>
`;

// wasi:io output streams take at most 4096 bytes per blocking write.
const CHUNK = 4096;

function env(name) {
  const found = getEnvironment().find(([key]) => key === name);
  return found ? found[1] : null;
}

// The text of the file at an absolute path, through the preopened directory that holds it,
// or null if there is none.
function readFile(path) {
  for (const [dir, mount] of getDirectories()) {
    const prefix = mount.endsWith('/') ? mount : `${mount}/`;
    if (!path.startsWith(prefix)) continue;
    try {
      const file = dir.openAt({}, path.slice(prefix.length), {}, { read: true });
      const size = Number(file.stat().size);
      const chunks = [];
      let offset = 0n;
      while (offset < BigInt(size)) {
        const [bytes, end] = file.read(BigInt(size) - offset, offset);
        chunks.push(bytes);
        offset += BigInt(bytes.length);
        if (end || bytes.length === 0) break;
      }
      const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const c of chunks) {
        all.set(c, at);
        at += c.length;
      }
      return new TextDecoder().decode(all);
    } catch {
      return null;
    }
  }
  return null;
}

// The status, content type and body of the answer to `method path`.
function route(method, path) {
  if (method !== 'GET') return [405, 'text/plain', 'method not allowed\n'];
  if (path === '/') return [200, 'text/html; charset=utf-8', PAGE];
  if (path === '/api/info') {
    const info = {
      language: 'javascript',
      greeting: env('GREETING'),
      message: readFile(env('MESSAGE_FILE') ?? '/config/message.txt'),
    };
    return [200, 'application/json', JSON.stringify(info)];
  }
  return [404, 'text/plain', 'not found\n'];
}

export const incomingHandler = {
  handle(request, responseOut) {
    const m = request.method();
    const method = m.tag === 'other' ? m.val : m.tag.toUpperCase();
    const path = (request.pathWithQuery() ?? '/').split('?')[0];
    const [status, contentType, text] = route(method, path);
    const body = new TextEncoder().encode(text);

    const encoder = new TextEncoder();
    const headers = Fields.fromList([
      ['content-type', encoder.encode(contentType)],
      ['content-length', encoder.encode(String(body.length))],
    ]);
    const response = new OutgoingResponse(headers);
    response.setStatusCode(status);
    const outBody = response.body();
    ResponseOutparam.set(responseOut, { tag: 'ok', val: response });
    const stream = outBody.write();
    for (let start = 0; start < body.length; start += CHUNK) {
      stream.blockingWriteAndFlush(body.subarray(start, start + CHUNK));
    }
    stream[Symbol.dispose]();
    OutgoingBody.finish(outBody, undefined);
    console.log(`${method} ${path} ${status}`);
  },
};
