// The public HTTP API, as the playground uses it: JSON in and out, errors as ApiError.
export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.name = 'ApiError';
    Object.assign(this, { status, code, field });
  }
}

export async function api(path, { method = 'GET', body, signal, raw = false } = {}) {
  const init = { method, signal, headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['content-type'] = 'application/json';
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let code = `http_${response.status}`;
    let message = `${response.status} ${response.statusText}`;
    let field = null;
    try {
      const error = (await response.json()).error;
      if (error) ({ code, message, field } = { ...error, message: error.message || message });
    } catch { /* not JSON */ }
    throw new ApiError(response.status, code, message, field);
  }
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

export const isAbort = (error) => error?.name === 'AbortError';

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
