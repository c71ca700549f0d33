// The page's shared state and its smallest helpers: the state object S (the model, its limits and
// directions, the drawing settings, the selected latent and the lists built from it), the $ lookup,
// the latent entry shape, the limits' fallback and timing constants, window.__ganservePerf (read by
// the tests and the benchmark), and the message line (errors and status). Every other module imports
// from here; this module imports only api.js, so it sits at the bottom of the graph.
import { ApiError, apiKey, isAbort, isAuthError } from './api.js';

export const PER_PAGE = 24;
// Used only when the server has no GET /v1/limits: the smallest limits a deployment is likely to set.
export const FALLBACK_LIMITS = { max_images: 8, max_frames: 16, max_keyframes: 16, max_mix_side: 3, max_edits: 16 };
export const STALE_MS = 250; // an in-flight slider image older than this is abandoned for the latest value
export const TRAINING_POLL_MS = 2000;

export const $ = (id) => document.getElementById(id);
export const perf = (window.__ganservePerf = { lastRequestedSeq: 0, shownSeq: 0, firstGridMs: null, grids: [], drags: [], aborted: 0, superseded: 0, requests: 0 });

// A latent as the page holds it. ref: {seed} | {id} | {ws}; final: its ws are already truncated (a
// child's ws, a saved w or ws), so it is drawn with psi 1 and no cutoff; edits are added on top.
export const entry = (ref, final, label, thumb = null, kind = null) => ({ ref, final, label, thumb, kind });

export const S = {
  models: [], info: null, limits: { ...FALLBACK_LIMITS }, directions: [], dirById: new Map(),
  psi: 0.7, cutoff: null, noise: 'const', noiseSeed: 0, cls: null, page: 0,
  current: null, edits: new Map(), editLayers: '', lineage: [], savedFor: null,
  keyframes: [], rows: [], columns: [], mixLayers: new Set(), frames: [],
  savedCursor: null,
};

// ---------------------------------------------------------------------------- messages
// A 401 or 403 is about the API key: said under the key field (app.js reloads when the key changes).
export function showKeyProblem(error) {
  const scope = error.scope || 'the needed';
  let text;
  if (error.status === 403) text = `${error.message}. Enter a key with scope ${scope}.`;
  else if (!apiKey()) text = `This server needs an API key with scope ${scope}. Enter it in the API key field.`;
  else text = `The API key was refused (${error.message}). Check it, or enter another.`;
  $('api-key-message').textContent = text;
  $('api-key-message').hidden = false;
  $('api-key').setAttribute('aria-invalid', 'true');
}
export function clearKeyProblem() {
  $('api-key-message').hidden = true;
  $('api-key').removeAttribute('aria-invalid');
}

export function showError(error) {
  if (isAbort(error)) return;
  if (isAuthError(error)) { showKeyProblem(error); return; }
  $('error-text').textContent = error instanceof ApiError ? error.message : String(error?.message || error);
  $('error').hidden = false;
}
export function clearError() { $('error').hidden = true; }
export function status(text) { $('status').textContent = text; }
export async function guarded(fn) {
  try { clearError(); return await fn(); } catch (error) { showError(error); return undefined; }
}
