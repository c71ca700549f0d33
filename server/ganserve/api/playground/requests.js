// Request pieces: how an entry of the page becomes a request to the public API. options() is the
// drawing settings as a body, latentBody() a latent (with its edits), stableUrl() the cacheable GET
// URL of an entry when it has one (a seed or a saved id), and renderBatch() draws many entries in as
// few POST /images calls as the limits allow (counted in window.__ganservePerf). They only read S.
import { api, chunks, compactWs } from './api.js';
import { S, perf } from './state.js';

export const modelPath = () => `/v1/models/${encodeURIComponent(S.info.name)}`;

export function options(final) {
  const body = { psi: final ? 1 : S.psi, cutoff: final ? null : S.cutoff, noise: S.noise };
  if (S.noise === 'random') body.noise_seed = S.noiseSeed;
  if (S.info.c_dim > 0) body.class = S.cls;
  return body;
}

export function editList(edits = S.edits, layers = S.editLayers) {
  const list = [];
  for (const [direction, strength] of edits) {
    if (strength === 0) continue;
    list.push(layers ? { direction, strength, layers } : { direction, strength });
  }
  return list;
}

export function latentBody(ref, edits) {
  const body = ref.ws ? { ws: compactWs(ref.ws) } : { ...ref };
  if (edits && edits.length) body.edits = edits;
  return body;
}

export function currentEdits() { return editList(); }

export function stableUrl(e = S.current, edits = currentEdits()) {
  if (!e || e.ref.ws) return null;
  const path = e.ref.seed !== undefined ? `seeds/${e.ref.seed}.png` : `latents/${encodeURIComponent(e.ref.id)}.png`;
  const q = new URLSearchParams();
  const opts = options(e.final);
  q.set('psi', String(opts.psi));
  if (opts.cutoff !== null) q.set('cutoff', String(opts.cutoff));
  q.set('noise', opts.noise);
  if (opts.noise === 'random') q.set('noise_seed', String(opts.noise_seed));
  if (opts.class !== undefined && opts.class !== null) q.set('class', opts.class);
  for (const edit of edits) q.append('edit', `${edit.direction}:${edit.strength}${edit.layers ? `@${edit.layers}` : ''}`);
  return `${modelPath()}/${path}?${q}`;
}

// Images for entries (each {ref, final, edits}), in batches of at most max_images per POST /images.
export async function renderBatch(items, { signal, includeWs = false } = {}) {
  const out = new Array(items.length);
  const groups = new Map(); // final flag -> indices (psi differs between them)
  items.forEach((item, i) => {
    const key = item.final ? 'final' : 'plain';
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(i);
  });
  const jobs = [];
  for (const [key, indices] of groups) {
    for (const part of chunks(indices, S.limits.max_images)) {
      const body = {
        latents: part.map((i) => latentBody(items[i].ref, items[i].edits)),
        ...options(key === 'final'), format: 'png', output: 'json', include_ws: includeWs,
      };
      perf.requests++;
      jobs.push(api(`${modelPath()}/images`, { method: 'POST', body, signal }).then((result) => {
        result.images.forEach((image, k) => { out[part[k]] = image; });
      }));
    }
  }
  await Promise.all(jobs);
  return out;
}

export async function decoded(img, src) {
  img.src = src;
  try { await img.decode(); } catch { /* replaced by a newer src */ }
}
