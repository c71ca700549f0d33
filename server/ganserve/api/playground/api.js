// The public HTTP API, as the playground uses it: JSON in and out, errors as ApiError (scope: the
// one a 401 or 403 names). The API key (the header field, kept in localStorage) goes on every request
// as Authorization: Bearer; so an image the page shows is fetched here too (blobUrl), never by URL.
export class ApiError extends Error {
  constructor(status, code, message, field, scope = null) {
    super(message);
    this.name = 'ApiError';
    Object.assign(this, { status, code, field, scope });
  }
}

export const isAuthError = (error) => error instanceof ApiError && (error.status === 401 || error.status === 403);

const KEY_STORAGE = 'ganserve-api-key';
let memoryKey = ''; // where localStorage is unavailable (a locked-down browser): this page only
export function apiKey() {
  try { return localStorage.getItem(KEY_STORAGE) || ''; } catch { return memoryKey; }
}
export function setApiKey(key) {
  memoryKey = key;
  try { if (key) localStorage.setItem(KEY_STORAGE, key); else localStorage.removeItem(KEY_STORAGE); } catch { /* memoryKey */ }
}

// content: a File or Blob sent as the body as it is (an upload), with its own type.
export async function api(path, { method = 'GET', body, content, signal, raw = false } = {}) {
  const init = { method, signal, headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['content-type'] = 'application/json';
  }
  if (content !== undefined) {
    init.body = content;
    init.headers['content-type'] = content.type || 'application/octet-stream';
  }
  const key = apiKey();
  if (key) init.headers.authorization = `Bearer ${key}`;
  const response = await fetch(path, init);
  if (!response.ok) {
    let code = `http_${response.status}`;
    let message = `${response.status} ${response.statusText}`;
    let field = null;
    let scope = null;
    try {
      const error = (await response.json()).error;
      if (error) ({ code, message, field, scope = null } = { ...error, message: error.message || message });
    } catch { /* not JSON */ }
    throw new ApiError(response.status, code, message, field, scope);
  }
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

export const isAbort = (error) => error?.name === 'AbortError';

// An image by URL, as an object URL (an <img src> could not send the key). Revoke it when replaced.
export async function blobUrl(path, { signal } = {}) {
  const response = await api(path, { signal, raw: true });
  return URL.createObjectURL(await response.blob());
}

export function dataUrl(image) {
  return `data:${image.media_type};base64,${image.data}`;
}

export function base64Bytes(data) {
  const text = atob(data);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

// ws back to JSON at float32's precision (9 significant digits round-trip a float32): smaller bodies.
export function compactWs(ws) {
  return ws.map((row) => row.map((v) => Number(v.toPrecision(9))));
}

export function chunks(items, size) {
  const out = [];
  for (let i = 0; i < items.length; i += Math.max(1, size)) out.push(items.slice(i, i + size));
  return out;
}

export function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// Server-Sent Events over fetch (an EventSource could not send the key): each event's data, parsed
// as JSON, with its name; ends when the server ends the stream or the signal aborts.
export async function* events(path, { signal } = {}) {
  const response = await api(path, { signal, raw: true });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = { event: 'message', data: '' };
      for (const line of block.split('\n')) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue; // a comment (keep-alive) or a blank
        const name = line.slice(0, colon);
        const text = line.slice(colon + 1).replace(/^ /, '');
        fields[name] = name === 'data' && fields.data ? `${fields.data}\n${text}` : text;
      }
      if (fields.data) yield { event: fields.event, data: JSON.parse(fields.data) };
    }
  }
}
