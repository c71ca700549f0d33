// The designers' playground: a static page on ganserve's public HTTP API only (no engine specifics).
import { api, ApiError, base64Bytes, chunks, compactWs, dataUrl, download, isAbort } from './api.js';
import { drawChart } from './plot.js';
import { zipStore } from './zip.js';

const PER_PAGE = 24;
// Used only when the server has no GET /v1/limits: the smallest limits a deployment is likely to set.
const FALLBACK_LIMITS = { max_images: 8, max_frames: 16, max_keyframes: 16, max_mix_side: 3, max_edits: 16 };
const STALE_MS = 250; // an in-flight slider image older than this is abandoned for the latest value
const TRAINING_POLL_MS = 2000;

const $ = (id) => document.getElementById(id);
const perf = (window.__ganservePerf = { lastRequestedSeq: 0, shownSeq: 0, firstGridMs: null, grids: [], drags: [], aborted: 0, superseded: 0, requests: 0 });

// A latent as the page holds it. ref: {seed} | {id} | {ws}; final: its ws are already truncated (a
// child's ws, a saved w or ws), so it is drawn with psi 1 and no cutoff; edits are added on top.
const entry = (ref, final, label, thumb = null, kind = null) => ({ ref, final, label, thumb, kind });

const S = {
  models: [], info: null, limits: { ...FALLBACK_LIMITS }, directions: [], dirById: new Map(),
  psi: 0.7, cutoff: null, noise: 'const', noiseSeed: 0, cls: null, page: 0,
  current: null, edits: new Map(), editLayers: '', lineage: [], savedFor: null,
  keyframes: [], rows: [], columns: [], mixLayers: new Set(), frames: [],
  savedCursor: null,
};

// ---------------------------------------------------------------------------- messages
function showError(error) {
  if (isAbort(error)) return;
  $('error-text').textContent = error instanceof ApiError ? error.message : String(error?.message || error);
  $('error').hidden = false;
}
function clearError() { $('error').hidden = true; }
function status(text) { $('status').textContent = text; }
async function guarded(fn) {
  try { clearError(); return await fn(); } catch (error) { showError(error); return undefined; }
}

// ---------------------------------------------------------------------------- request pieces
const modelPath = () => `/v1/models/${encodeURIComponent(S.info.name)}`;

function options(final) {
  const body = { psi: final ? 1 : S.psi, cutoff: final ? null : S.cutoff, noise: S.noise };
  if (S.noise === 'random') body.noise_seed = S.noiseSeed;
  if (S.info.c_dim > 0) body.class = S.cls;
  return body;
}

function editList(edits = S.edits, layers = S.editLayers) {
  const list = [];
  for (const [direction, strength] of edits) {
    if (strength === 0) continue;
    list.push(layers ? { direction, strength, layers } : { direction, strength });
  }
  return list;
}

function latentBody(ref, edits) {
  const body = ref.ws ? { ws: compactWs(ref.ws) } : { ...ref };
  if (edits && edits.length) body.edits = edits;
  return body;
}

function currentEdits() { return editList(); }

function stableUrl(e = S.current, edits = currentEdits()) {
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
async function renderBatch(items, { signal, includeWs = false } = {}) {
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

async function decoded(img, src) {
  img.src = src;
  try { await img.decode(); } catch { /* replaced by a newer src */ }
}

// ---------------------------------------------------------------------------- live image (sliders)
// At most one request in flight and one waiting (the latest value): dragging never queues stale
// work. A newer value replaces the waiting one before it is sent; an in-flight request older than
// STALE_MS is aborted for the newest value; a change of latent aborts at once.
class LiveImage {
  constructor(img) { this.img = img; this.inflight = null; this.pending = null; this.seq = 0; this.shownSeq = 0; this.objectUrl = null; }

  request(make, { reset = false, inputAt = performance.now() } = {}) {
    const job = { seq: ++this.seq, make, inputAt };
    perf.lastRequestedSeq = job.seq;
    if (this.inflight && (reset || performance.now() - this.inflight.startedAt > STALE_MS)) {
      this.inflight.controller.abort();
      perf.aborted++;
      this.inflight = null;
    }
    if (this.inflight) {
      if (this.pending) perf.superseded++;
      this.pending = job;
      return job.seq;
    }
    this.pending = null;
    this.start(job);
    return job.seq;
  }

  async start(job) {
    const controller = new AbortController();
    const flight = { ...job, controller, startedAt: performance.now() };
    this.inflight = flight;
    perf.requests++;
    try {
      const src = await job.make(controller.signal);
      if (controller.signal.aborted) return;
      if (job.seq > this.shownSeq) {
        this.img.src = src;
        await this.img.decode().catch(() => {});
        if (controller.signal.aborted) return;
        if (this.objectUrl && this.objectUrl !== src) URL.revokeObjectURL(this.objectUrl);
        this.objectUrl = src.startsWith('blob:') ? src : null;
        this.shownSeq = job.seq;
        perf.shownSeq = job.seq;
        const shownAt = performance.now();
        perf.drags.push({ seq: job.seq, inputAt: job.inputAt, shownAt, ms: shownAt - job.inputAt });
        this.img.dataset.seq = String(job.seq);
      }
    } catch (error) {
      if (!isAbort(error)) showError(error);
    } finally {
      if (this.inflight === flight) {
        this.inflight = null;
        const next = this.pending;
        this.pending = null;
        if (next) this.start(next);
      }
    }
  }
}

let live;

function fetchCurrentImage(e, edits) {
  const url = stableUrl(e, edits);
  if (url) {
    return async (signal) => {
      const response = await api(url, { signal, raw: true });
      return URL.createObjectURL(await response.blob());
    };
  }
  return async (signal) => {
    const [image] = await renderBatch([{ ref: e.ref, final: e.final, edits }], { signal });
    return dataUrl(image);
  };
}

// ---------------------------------------------------------------------------- the selected latent
function signature() {
  const e = S.current;
  if (!e) return '';
  return JSON.stringify([S.info.name, e.ref.seed ?? e.ref.id ?? 'ws', e.ref.ws ? e.ref.ws[0][0] : 0, currentEdits(), options(e.final)]);
}

function showCurrent({ reset = false, inputAt } = {}) {
  const e = S.current;
  if (!e) return;
  const edits = currentEdits();
  live.request(fetchCurrentImage(e, edits), { reset, inputAt });
  const editText = edits.length ? ` with ${edits.length} edit${edits.length > 1 ? 's' : ''}` : '';
  $('current-img').alt = `${e.label}${editText}`;
  $('current-caption').textContent = `${e.label}${editText}${e.final ? ' (final ws: drawn at psi 1)' : ''}`;
  $('current-seed').textContent = e.ref.seed !== undefined ? String(e.ref.seed) : '–';
  const savedId = S.savedFor?.sig === signature() ? S.savedFor.id : null;
  const baseId = e.ref.id ? `${e.ref.id}${edits.length ? ` + ${edits.length} edit${edits.length > 1 ? 's' : ''} (not saved)` : ''}` : null;
  $('current-id').textContent = savedId || baseId || 'not saved';
  const url = stableUrl(e, edits);
  $('current-url').value = url ? new URL(url, location.origin).href : '';
  $('active-edits').textContent = edits.length
    ? `Edits: ${edits.map((x) => `${x.direction} ${x.strength > 0 ? '+' : ''}${x.strength}`).join(', ')}${S.editLayers ? ` over ${S.editLayers}` : ''}`
    : 'No edits.';
  for (const button of document.querySelectorAll('#grid button')) {
    button.setAttribute('aria-current', String(e.ref.seed !== undefined && Number(button.dataset.seed) === e.ref.seed));
  }
}

function select(e, { edits = new Map(), lineage = 'reset' } = {}) {
  if (S.lineage.length) S.lineage.at(-1).edits = new Map(S.edits); // remember the edits it was bred with
  S.current = e;
  S.edits = new Map(edits);
  if (lineage === 'reset') S.lineage = [{ entry: e, edits: new Map(edits) }];
  else if (lineage === 'push') S.lineage.push({ entry: e, edits: new Map(edits) });
  syncDirectionSliders();
  renderBreadcrumbs();
  showCurrent({ reset: true });
}

function renderBreadcrumbs() {
  const list = $('breadcrumbs');
  list.replaceChildren();
  S.lineage.forEach((step, i) => {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.setAttribute('aria-label', `Return to ${step.entry.label}`);
    if (i === S.lineage.length - 1) button.setAttribute('aria-current', 'step');
    if (step.entry.thumb) {
      const img = document.createElement('img');
      img.src = step.entry.thumb;
      img.alt = '';
      button.append(img);
    }
    button.append(step.entry.label);
    button.addEventListener('click', () => {
      S.lineage = S.lineage.slice(0, i + 1);
      const target = S.lineage[i];
      S.current = target.entry;
      S.edits = new Map(target.edits);
      syncDirectionSliders();
      renderBreadcrumbs();
      showCurrent({ reset: true });
    });
    li.append(button);
    list.append(li);
  });
}

// ---------------------------------------------------------------------------- seed grid
let gridController = null;

async function loadGrid() {
  if (gridController) gridController.abort();
  const controller = (gridController = new AbortController());
  const started = performance.now();
  const first = S.page * PER_PAGE;
  const seeds = Array.from({ length: PER_PAGE }, (_, i) => first + i);
  $('page').value = String(S.page);
  $('page-range').textContent = `seeds ${first}–${first + PER_PAGE - 1}`;
  const grid = $('grid');
  grid.setAttribute('aria-busy', 'true');
  grid.replaceChildren(...seeds.map((seed) => {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.seed = String(seed);
    button.setAttribute('aria-label', `Seed ${seed}`);
    const img = document.createElement('img');
    img.alt = `Seed ${seed}`;
    img.width = img.height = S.info.resolution;
    const label = document.createElement('span');
    label.className = 'label';
    label.textContent = String(seed);
    button.append(img, label);
    button.addEventListener('click', () => select(entry({ seed }, false, `seed ${seed}`, img.src || null)));
    li.append(button);
    return li;
  }));
  try {
    const images = await renderBatch(seeds.map((seed) => ({ ref: { seed }, final: false })), { signal: controller.signal });
    const imgs = [...grid.querySelectorAll('img')];
    await Promise.all(images.map((image, i) => decoded(imgs[i], dataUrl(image))));
    if (controller.signal.aborted) return;
    grid.setAttribute('aria-busy', 'false');
    const done = performance.now();
    if (perf.firstGridMs === null) perf.firstGridMs = done;
    perf.grids.push({ page: S.page, ms: done - started, at: done });
    grid.dataset.loaded = String(perf.grids.length);
    Object.assign(grid.dataset, { psi: String(S.psi), class: S.cls ?? '', page: String(S.page) });
    status(`page ${S.page}: ${seeds.length} images in ${Math.round(done - started)} ms`);
    if (S.current) showCurrent();
  } catch (error) {
    showError(error);
  }
}

function setPage(page) {
  S.page = Math.max(0, Math.floor(page) || 0);
  loadGrid();
}

// ---------------------------------------------------------------------------- directions
function groupOf(d) {
  if (d.method === 'ganspace') return 'GANSpace';
  if (d.method === 'sefa') return `SeFa (${d.layers})`;
  if (d.method === 'class') return 'Class pairs';
  return d.method;
}

function onEditInput(id, value, output) {
  const inputAt = performance.now();
  if (value === 0) S.edits.delete(id); else S.edits.set(id, value);
  if (output) output.textContent = String(value);
  const row = output?.closest('.direction');
  if (row) row.classList.toggle('active', value !== 0);
  if (editList().length > S.limits.max_edits) {
    showError(new Error(`at most ${S.limits.max_edits} edits at once: reset some sliders`));
    return;
  }
  showCurrent({ inputAt });
}

function renderDirections() {
  const box = $('directions');
  box.replaceChildren();
  const groups = new Map();
  for (const d of S.directions) {
    const g = groupOf(d);
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push(d);
  }
  if (!S.directions.length) box.textContent = 'This model has no directions (run `ganserve directions` on it).';
  let first = true;
  for (const [name, list] of groups) {
    const details = document.createElement('details');
    details.open = first;
    first = false;
    details.dataset.group = name;
    const summary = document.createElement('summary');
    summary.textContent = `${name} (${list.length})`;
    const grid = document.createElement('div');
    grid.className = 'direction-list';
    for (const d of list) {
      const row = document.createElement('div');
      row.className = 'direction slider';
      row.dataset.direction = d.id;
      row.dataset.search = `${d.id} ${d.label} ${name}`.toLowerCase();
      const input = document.createElement('input');
      input.type = 'range';
      input.id = `dir-${d.id}`;
      input.min = '-5'; input.max = '5'; input.step = '0.1'; input.value = '0';
      input.dataset.direction = d.id;
      const label = document.createElement('label');
      label.htmlFor = input.id;
      label.textContent = d.label;
      label.title = `${d.id}: σ ${d.sigma.toPrecision(3)}, layers ${d.layers}` +
        (d.explained_variance != null ? `, ${(100 * d.explained_variance).toFixed(1)}% of variance` : '');
      const output = document.createElement('output');
      output.htmlFor = input.id;
      output.textContent = '0';
      input.setAttribute('aria-describedby', `${input.id}-value`);
      output.id = `${input.id}-value`;
      input.addEventListener('input', () => onEditInput(d.id, Number(input.value), output));
      input.addEventListener('dblclick', () => { input.value = '0'; onEditInput(d.id, 0, output); });
      row.append(label, input, output);
      grid.append(row);
    }
    details.append(summary, grid);
    box.append(details);
  }
  filterDirections();
  // Class directions: a from/to picker over class-I-J (listed or not, the ids work for any pair).
  const names = S.info.class_names?.length ? S.info.class_names : Array.from({ length: S.info.c_dim }, (_, i) => `class ${i}`);
  const classEdit = $('class-edit');
  classEdit.hidden = !(S.info.c_dim > 1 && S.directions.some((d) => d.method === 'class'));
  for (const [id, pick] of [['class-from', 0], ['class-to', 1]]) {
    $(id).replaceChildren(...names.map((n, i) => new Option(n, String(i), false, i === pick)));
  }
  $('class-strength').value = '0';
  $('class-strength-value').textContent = '0';
}

function classDirectionId() { return `class-${$('class-from').value}-${$('class-to').value}`; }

function syncDirectionSliders() {
  for (const input of document.querySelectorAll('#directions input[type="range"]')) {
    const value = S.edits.get(input.dataset.direction) || 0;
    input.value = String(value);
    const output = $(`${input.id}-value`);
    if (output) output.textContent = String(value);
    input.closest('.direction').classList.toggle('active', value !== 0);
  }
  const classValue = S.edits.get(classDirectionId()) || 0;
  $('class-strength').value = String(classValue);
  $('class-strength-value').textContent = String(classValue);
}

function filterDirections() {
  const words = $('direction-filter').value.toLowerCase().split(/\s+/).filter(Boolean);
  for (const details of document.querySelectorAll('#directions details')) {
    let shown = 0;
    for (const row of details.querySelectorAll('.direction')) {
      const match = words.every((w) => row.dataset.search.includes(w));
      row.hidden = !match;
      shown += match;
    }
    details.hidden = shown === 0;
    if (words.length && shown) details.open = true;
  }
}

// ---------------------------------------------------------------------------- children
async function breed() {
  const e = S.current;
  if (!e) throw new Error('select a latent first');
  const count = Math.min(Math.max(1, Number($('child-count').value) || 8), S.limits.max_images);
  const body = {
    parent: latentBody(e.ref, currentEdits()), count, spread: Number($('spread').value), layers: $('child-layers').value,
    seed: Number($('child-seed').value) || 0, output: 'list', include_parent: false, format: 'png', ...options(e.final),
  };
  status('breeding…');
  const result = await api(`${modelPath()}/children`, { method: 'POST', body });
  const list = $('children');
  list.replaceChildren();
  const parentLabel = e.label;
  await Promise.all(result.images.map(async (image, k) => {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    const label = `child ${k + 1} of ${parentLabel}`;
    button.setAttribute('aria-label', `Go on from ${label}`);
    const img = document.createElement('img');
    img.alt = label;
    button.append(img);
    const src = dataUrl(image);
    button.addEventListener('click', () => select(entry({ ws: image.ws }, true, `child ${k + 1}`, src), { lineage: 'push' }));
    li.append(button);
    list.append(li);
    await decoded(img, src);
  }));
  list.dataset.count = String(result.images.length);
  status(`${result.images.length} children of ${parentLabel}`);
}

// ---------------------------------------------------------------------------- keyframes, rows, columns
function snapshot() {
  const e = S.current;
  if (!e) throw new Error('select a latent first');
  const edits = currentEdits();
  const img = $('current-img');
  const label = e.label + (edits.length ? ` (+${edits.length} edit${edits.length > 1 ? 's' : ''})` : '');
  return { ref: e.ref, final: e.final, edits, label, thumb: thumbOf(img) };
}

// A copy of what an <img> shows, as a data URL (the live image's blob URLs are revoked as it moves on).
function thumbOf(img) {
  if (!img.naturalWidth) return '';
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  canvas.getContext('2d').drawImage(img, 0, 0);
  return canvas.toDataURL('image/png');
}

function renderChips(listId, items, onRemove) {
  const list = $(listId);
  list.replaceChildren(...items.map((item, i) => {
    const li = document.createElement('li');
    const img = document.createElement('img');
    img.src = item.thumb;
    img.alt = '';
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.textContent = '×';
    remove.setAttribute('aria-label', `Remove ${item.label}`);
    remove.addEventListener('click', () => { items.splice(i, 1); onRemove(); });
    li.append(img, item.label, remove);
    return li;
  }));
  list.dataset.count = String(items.length);
}

const renderKeyframes = () => renderChips('keyframes', S.keyframes, renderKeyframes);
const renderMixSources = () => {
  renderChips('mix-rows', S.rows, renderMixSources);
  renderChips('mix-columns', S.columns, renderMixSources);
};

// A list of items as one request's latents: all plain (psi applies), or all final (psi 1), fetching
// the final ws of the plain ones at the current psi when the two kinds are mixed.
async function asOneKind(items) {
  if (items.every((item) => !item.final)) return { latents: items.map((it) => latentBody(it.ref, it.edits)), opts: options(false) };
  const plain = items.map((item, i) => [item, i]).filter(([item]) => !item.final);
  const latents = items.map((it) => latentBody(it.ref, it.edits));
  if (plain.length) {
    const images = await renderBatch(plain.map(([item]) => item), { includeWs: true });
    plain.forEach(([, i], k) => { latents[i] = { ws: compactWs(images[k].ws) }; });
  }
  return { latents, opts: options(true) };
}

// ---------------------------------------------------------------------------- interpolation
let playTimer = null;

function interpolationBody(output, format) {
  if (S.keyframes.length < 2) throw new Error('add two or more keyframes first');
  if (S.keyframes.length > S.limits.max_keyframes) throw new Error(`at most ${S.limits.max_keyframes} keyframes`);
  const space = document.querySelector('input[name="space"]:checked').value;
  const base = { frames: Number($('steps').value), loop: $('loop').checked, output, format, fps: Number($('fps').value) || 12, space };
  return { space, base };
}

async function interpolationRequest(output, format) {
  const { space, base } = interpolationBody(output, format);
  if (space === 'z') {
    if (S.keyframes.some((k) => k.final || k.ref.seed === undefined)) {
      throw new Error('slerp in Z needs seeds as keyframes; use lerp in W for children and saved latents');
    }
    return { ...base, keyframes: S.keyframes.map((k) => latentBody(k.ref, k.edits)), ...options(false) };
  }
  const { latents, opts } = await asOneKind(S.keyframes);
  return { ...base, keyframes: latents, ...opts };
}

async function interpolate() {
  stopPlayback();
  status('interpolating…');
  const body = await interpolationRequest('frames', 'png');
  const result = await api(`${modelPath()}/interpolations`, { method: 'POST', body });
  S.frames = result.frames;
  const strip = $('frames');
  strip.replaceChildren();
  await Promise.all(result.frames.map(async (frame) => {
    const li = document.createElement('li');
    const img = document.createElement('img');
    img.alt = `Frame ${frame.index + 1} of ${result.frames.length}`;
    li.append(img);
    strip.append(li);
    await decoded(img, dataUrl(frame));
  }));
  strip.dataset.count = String(result.frames.length);
  if (result.frames.length) await decoded($('anim-img'), dataUrl(result.frames[0]));
  for (const id of ['play', 'download-webp', 'download-gif', 'download-frames']) $(id).disabled = false;
  status(`${result.frames.length} frames`);
}

function stopPlayback() {
  if (playTimer) clearInterval(playTimer);
  playTimer = null;
  $('play').setAttribute('aria-pressed', 'false');
  $('play').textContent = 'Play';
}

function togglePlayback() {
  if (playTimer) return stopPlayback();
  if (!S.frames.length) return undefined;
  let i = 0;
  const img = $('anim-img');
  const fps = Math.min(60, Math.max(1, Number($('fps').value) || 12));
  playTimer = setInterval(() => { i = (i + 1) % S.frames.length; img.src = dataUrl(S.frames[i]); }, 1000 / fps);
  $('play').setAttribute('aria-pressed', 'true');
  $('play').textContent = 'Pause';
  return undefined;
}

async function downloadAnimation(format) {
  const body = await interpolationRequest('animation', format);
  const response = await api(`${modelPath()}/interpolations`, { method: 'POST', body, raw: true });
  download(await response.blob(), `${S.info.name}-interpolation.${format}`);
}

function downloadFrames() {
  const files = S.frames.map((f) => ({ name: `frame${String(f.index).padStart(3, '0')}.png`, bytes: base64Bytes(f.data) }));
  download(zipStore(files), `${S.info.name}-frames.zip`);
}

// ---------------------------------------------------------------------------- style mixing
function renderLayerToggles() {
  const box = $('layer-toggles');
  box.replaceChildren();
  const groupOfLayer = (i) => Object.entries(S.info.layer_groups || {}).find(([, list]) => list.includes(i))?.[0] || '';
  for (let i = 0; i < S.info.num_ws; i++) {
    const label = document.createElement('label');
    const input = document.createElement('input');
    input.type = 'checkbox';
    input.id = `layer-${i}`;
    input.dataset.layer = String(i);
    input.checked = S.mixLayers.has(i);
    input.setAttribute('aria-label', `ws ${i} (${groupOfLayer(i) || 'layer'})`);
    input.addEventListener('change', () => {
      if (input.checked) S.mixLayers.add(i); else S.mixLayers.delete(i);
      syncPresets();
    });
    label.htmlFor = input.id;
    label.append(input, `ws ${i}`);
    label.title = groupOfLayer(i);
    box.append(label);
  }
  syncPresets();
}

function presetLayers(name) {
  if (name === 'all') return Array.from({ length: S.info.num_ws }, (_, i) => i);
  return S.info.layer_groups?.[name] || [];
}

function syncPresets() {
  const chosen = [...S.mixLayers].sort((a, b) => a - b).join(',');
  for (const button of document.querySelectorAll('#layer-presets button')) {
    const layers = presetLayers(button.dataset.preset);
    button.disabled = !layers.length;
    button.setAttribute('aria-pressed', String(layers.length > 0 && layers.join(',') === chosen));
  }
  for (const input of document.querySelectorAll('#layer-toggles input')) input.checked = S.mixLayers.has(Number(input.dataset.layer));
}

function mixFromGrid() {
  const side = Math.min(S.limits.max_mix_side, 3);
  const seeds = Array.from({ length: PER_PAGE }, (_, i) => S.page * PER_PAGE + i);
  const imgs = [...document.querySelectorAll('#grid img')];
  const make = (k) => ({ ref: { seed: seeds[k] }, final: false, edits: [], label: `seed ${seeds[k]}`, thumb: imgs[k]?.src || '' });
  S.rows = Array.from({ length: side }, (_, k) => make(k));
  S.columns = Array.from({ length: side }, (_, k) => make(side + k));
  renderMixSources();
}

async function mix() {
  if (!S.rows.length || !S.columns.length) throw new Error('add at least one row and one column');
  if (!S.mixLayers.size) throw new Error('choose at least one layer to take from the columns');
  status('mixing…');
  const all = await asOneKind([...S.rows, ...S.columns]);
  const body = {
    rows: all.latents.slice(0, S.rows.length), columns: all.latents.slice(S.rows.length),
    layers: [...S.mixLayers].sort((a, b) => a - b), output: 'grid', format: 'png', ...all.opts,
  };
  const response = await api(`${modelPath()}/mixes`, { method: 'POST', body, raw: true });
  const img = $('mix-img');
  if (img.src.startsWith('blob:')) URL.revokeObjectURL(img.src);
  img.hidden = false;
  await decoded(img, URL.createObjectURL(await response.blob()));
  img.dataset.layers = body.layers.join(',');
  $('mix-caption').textContent = `${S.rows.length} rows × ${S.columns.length} columns, layers ${body.layers.join(',')} from the columns (column sources on top, row sources on the left)`;
  status('mixed');
}

// ---------------------------------------------------------------------------- saved latents
// POST /v1/latents for an entry as shown. An unedited seed (or saved z) is kept as z, which takes no
// psi, cutoff or class (they apply when it is drawn); anything else is kept as its final w or ws.
function saveBody(e, edits, kind = null) {
  const body = { model: S.info.name, latent: latentBody(e.ref, edits), name: e.label };
  if (kind) body.kind = kind;
  const keptAsZ = !kind && !e.final && !edits.length;
  if (!keptAsZ) {
    const { psi, cutoff } = options(e.final);
    Object.assign(body, { psi, cutoff });
    if (S.info.c_dim > 0) body.class = S.cls;
  }
  return body;
}

async function saveCurrent() {
  const e = S.current;
  if (!e) throw new Error('select a latent first');
  const saved = await api('/v1/latents', { method: 'POST', body: saveBody(e, currentEdits()) });
  S.savedFor = { sig: signature(), id: saved.id };
  showCurrent();
  status(`saved as ${saved.id} (${saved.kind})`);
  await loadSaved();
  return saved;
}

async function loadSaved(append = false) {
  const q = new URLSearchParams({ model: S.info.name, limit: '24' });
  if (append && S.savedCursor) q.set('cursor', S.savedCursor);
  const page = await api(`/v1/latents?${q}`);
  S.savedCursor = page.next_cursor;
  $('saved-more').hidden = !page.next_cursor;
  const list = $('saved');
  if (!append) list.replaceChildren();
  const items = page.latents.map((s) => entry({ id: s.id }, s.kind !== 'z', s.name || `latent ${s.id}`, null, s.kind));
  const rows = items.map((item, i) => {
    const s = page.latents[i];
    const li = document.createElement('li');
    li.dataset.id = s.id;
    const load = document.createElement('button');
    load.type = 'button';
    load.className = 'load';
    load.setAttribute('aria-label', `Load ${item.label} (${s.id}, ${s.kind})`);
    const img = document.createElement('img');
    img.alt = '';
    const text = document.createElement('span');
    text.textContent = `${item.label} · ${s.id} · ${s.kind}`;
    load.append(img, text);
    load.addEventListener('click', () => { item.thumb = img.src; select(item); });
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.textContent = 'Delete';
    remove.setAttribute('aria-label', `Delete saved latent ${s.id}`);
    remove.addEventListener('click', () => guarded(async () => {
      await api(`/v1/latents/${encodeURIComponent(s.id)}`, { method: 'DELETE' });
      li.remove();
    }));
    li.append(load, remove);
    list.append(li);
    return img;
  });
  $('saved-count').textContent = `${list.children.length}${page.next_cursor ? '+' : ''} saved for ${S.info.name}`;
  if (items.length) {
    const images = await renderBatch(items.map((it) => ({ ref: it.ref, final: it.final })));
    await Promise.all(images.map((image, i) => decoded(rows[i], dataUrl(image))));
  }
}

// ---------------------------------------------------------------------------- sharing
async function share() {
  const e = S.current;
  if (!e) throw new Error('select a latent first');
  if (e.ref.ws) { // not shareable as it is: save its ws (final, so psi 1) and go on from the id
    const saved = await api('/v1/latents', { method: 'POST', body: saveBody(e, [], 'ws') });
    e.ref = { id: saved.id };
    e.kind = saved.kind;
    renderBreadcrumbs();
    loadSaved().catch(showError);
  }
  const q = new URLSearchParams();
  q.set('m', S.info.name);
  if (e.ref.seed !== undefined) q.set('seed', String(e.ref.seed)); else q.set('id', e.ref.id);
  q.set('psi', String(S.psi));
  if (S.cutoff !== null) q.set('cutoff', String(S.cutoff));
  q.set('noise', S.noise);
  if (S.noise === 'random') q.set('ns', String(S.noiseSeed));
  if (S.cls !== null && S.info.c_dim > 0) q.set('class', S.cls);
  if (S.editLayers) q.set('layers', S.editLayers);
  for (const [direction, strength] of S.edits) if (strength) q.append('edit', `${direction}:${strength}`);
  q.set('page', String(S.page));
  q.set('spread', $('spread').value);
  const link = `${location.origin}/playground#${q}`;
  history.replaceState(null, '', `#${q}`);
  $('share-url').value = link;
  showCurrent();
  navigator.clipboard?.writeText(link).then(() => status('share link copied'), () => status('share link ready'));
  return link;
}

function readShared() {
  const q = new URLSearchParams(location.hash.slice(1));
  return q.has('m') ? q : null;
}

async function applyShared(q) {
  if (q.has('psi')) S.psi = Number(q.get('psi'));
  S.cutoff = q.get('cutoff') ? Number(q.get('cutoff')) : null;
  if (q.has('noise')) S.noise = q.get('noise');
  if (q.has('ns')) S.noiseSeed = Number(q.get('ns'));
  if (q.has('class')) S.cls = q.get('class');
  S.editLayers = q.get('layers') || '';
  if (q.has('page')) S.page = Number(q.get('page')) || 0;
  if (q.has('spread')) { $('spread').value = q.get('spread'); $('spread-value').textContent = q.get('spread'); }
  const edits = new Map();
  for (const item of q.getAll('edit')) {
    const [direction, strength] = item.split(':');
    if (direction && Number.isFinite(Number(strength))) edits.set(direction, Number(strength));
  }
  syncControls();
  let e = null;
  if (q.has('seed')) {
    const seed = Number(q.get('seed'));
    e = entry({ seed }, false, `seed ${seed}`);
  } else if (q.has('id')) {
    const saved = await api(`/v1/latents/${encodeURIComponent(q.get('id'))}`);
    e = entry({ id: saved.id }, saved.kind !== 'z', saved.name || `latent ${saved.id}`, null, saved.kind);
  }
  if (e) select(e, { edits });
}

// ---------------------------------------------------------------------------- training view
const training = { controller: null, timer: null, after: 0, run: null, ticks: [], checkpoints: [], evaluation: [], model: null };
const CHARTS = [
  ['Losses', ['loss_G', 'loss_D']],
  ['D logits', ['D_real', 'D_fake']],
  ['Augmentation', ['augment_p', 'rt']],
  ['R1 penalty', ['r1']],
  ['Speed (images/s)', ['images_per_s']],
];

function stopTraining() {
  if (training.controller) training.controller.abort();
  clearTimeout(training.timer);
  training.controller = null;
  training.timer = null;
}

function resetTraining() {
  stopTraining();
  Object.assign(training, { after: 0, run: null, ticks: [], checkpoints: [], evaluation: [], model: S.info?.name });
  $('training-body').hidden = true;
  $('training-status').textContent = 'Open this tab to read the model\'s training log.';
}

async function pollTraining() {
  if ($('panel-training').hidden || !S.info) return;
  if (training.model !== S.info.name) resetTraining();
  if (!S.info.training_log) {  // GET /v1/models says whether there is a log: no 404 to probe for
    $('training-status').textContent = `${S.info.name} has no training log.`;
    $('training-body').hidden = true;
    return;
  }
  const controller = (training.controller = new AbortController());
  try {
    const log = await api(`${modelPath()}/training?after=${training.after}`, { signal: controller.signal });
    if (log.run !== training.run || log.next < training.after) {
      Object.assign(training, { ticks: [], checkpoints: [], run: log.run });
      if (training.after) { training.after = 0; training.timer = setTimeout(pollTraining, 0); return; }
    }
    for (const record of log.records) {
      if (record.event === 'tick') training.ticks.push(record);
      else if (record.event === 'checkpoint') training.checkpoints.push(record);
    }
    training.after = log.next;
    training.evaluation = log.evaluation || [];
    drawTraining(log);
  } catch (error) {
    if (isAbort(error)) return;
    if (error instanceof ApiError && error.status === 404) {
      $('training-status').textContent = `${S.info.name} has no training log.`;
      $('training-body').hidden = true;
    } else {
      showError(error);
    }
  }
  if (!$('panel-training').hidden) training.timer = setTimeout(pollTraining, TRAINING_POLL_MS);
}

function drawTraining(log) {
  $('training-body').hidden = false;
  const last = training.ticks.at(-1);
  const updated = log.updated ? new Date(log.updated * 1000).toLocaleString() : 'unknown';
  $('training-status').textContent = `Run ${log.run || ''}: ${training.ticks.length} ticks` +
    (last ? `, at ${last.kimg} kimg (loss_G ${last.loss_G}, loss_D ${last.loss_D})` : '') + `; log updated ${updated}.`;
  const charts = $('charts');
  const specs = [...CHARTS];
  if (training.evaluation.length) specs.push(['Evaluation: FD ratio', ['fd_ratio']], ['Evaluation: class accuracy', ['class_accuracy']]);
  while (charts.children.length < specs.length) charts.append(document.createElementNS('http://www.w3.org/2000/svg', 'svg'));
  while (charts.children.length > specs.length) charts.lastChild.remove();
  specs.forEach(([title, keys], i) => {
    const source = title.startsWith('Evaluation') ? training.evaluation : training.ticks;
    const series = keys.map((key) => ({ name: key, points: source.filter((r) => r[key] != null).map((r) => [r.kimg, r[key]]) }));
    const svg = charts.children[i];
    svg.dataset.chart = keys.join(',');
    drawChart(svg, title, series);
  });
  const slider = $('checkpoint');
  const atEnd = Number(slider.value) >= Number(slider.max);
  slider.max = String(Math.max(0, training.checkpoints.length - 1));
  slider.disabled = !training.checkpoints.length;
  if (atEnd) slider.value = slider.max;
  showCheckpoint();
}

function showCheckpoint() {
  const checkpoint = training.checkpoints[Number($('checkpoint').value)];
  const img = $('samples-img');
  if (!checkpoint) {
    $('checkpoint-value').textContent = 'no checkpoints yet';
    img.hidden = true;
    return;
  }
  img.hidden = false;
  const url = checkpoint.samples_url || `${modelPath()}/training/samples/${checkpoint.samples?.split('/').pop()}`;
  if (img.getAttribute('src') !== url) img.src = url;
  img.alt = `Samples at ${checkpoint.kimg} kimg (one row per class)`;
  $('checkpoint-value').textContent = `${checkpoint.kimg} kimg (${Number($('checkpoint').value) + 1} of ${training.checkpoints.length})`;
  $('samples-caption').textContent = `Checkpoint at ${checkpoint.kimg} kimg`;
}

// ---------------------------------------------------------------------------- tabs
function selectTab(tab, focus = true) {
  for (const t of document.querySelectorAll('[role="tab"]')) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute('aria-controls')).hidden = !on;
  }
  if (focus) tab.focus();
  if (tab.id === 'tab-training') { stopTraining(); pollTraining(); } else stopTraining();
  if (tab.id === 'tab-saved') guarded(() => loadSaved());
}

function wireTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  for (const tab of tabs) {
    tab.addEventListener('click', () => selectTab(tab));
    tab.addEventListener('keydown', (event) => {
      const i = tabs.indexOf(tab);
      const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
      if (next === undefined) return;
      event.preventDefault();
      selectTab(tabs[(next + tabs.length) % tabs.length]);
    });
  }
}

// ---------------------------------------------------------------------------- model and controls
function syncControls() {
  $('psi').value = String(S.psi);
  $('psi-value').textContent = String(S.psi);
  $('cutoff').value = S.cutoff === null ? '' : String(S.cutoff);
  $('noise').value = S.noise;
  $('noise-seed').value = String(S.noiseSeed);
  $('noise-seed-field').hidden = S.noise !== 'random';
  if (S.info?.c_dim > 0) {
    if (S.cls === null || ![...$('class').options].some((o) => o.value === S.cls)) S.cls = $('class').options[0]?.value ?? '0';
    $('class').value = S.cls;
  }
  const own = ['', 'all', 'coarse', 'middle', 'fine'].includes(S.editLayers);
  $('edit-layers').value = own ? S.editLayers : 'custom';
  $('edit-layers-custom-field').hidden = own;
  if (!own) $('edit-layers-custom').value = S.editLayers;
}

async function loadModel(name, shared = null) {
  stopTraining();
  S.info = S.models.find((m) => m.name === name) || S.models[0];
  $('model').value = S.info.name;
  $('model-info').textContent = `${S.info.architecture}, ${S.info.resolution}×${S.info.resolution}, ${S.info.num_ws} ws, ` +
    `${S.info.c_dim ? `${S.info.c_dim} classes, ` : ''}engine ${S.info.engine}, version ${S.info.version}`;
  $('cutoff').replaceChildren(new Option('none (all layers)', ''), ...Array.from({ length: S.info.num_ws }, (_, i) => new Option(`first ${i + 1} ws`, String(i + 1))));
  const classNames = S.info.class_names?.length ? S.info.class_names : Array.from({ length: S.info.c_dim }, (_, i) => String(i));
  $('class').replaceChildren(...classNames.map((n) => new Option(n, n)));
  $('class-field').hidden = !S.info.c_dim;
  if (!shared) S.cls = null;
  Object.assign(S, { current: null, edits: new Map(), lineage: [], keyframes: [], rows: [], columns: [], frames: [], savedFor: null, savedCursor: null });
  S.mixLayers = new Set(S.info.layer_groups?.coarse || [0]);
  for (const id of ['children', 'frames', 'saved']) $(id).replaceChildren();
  $('mix-img').hidden = true;
  for (const id of ['play', 'download-webp', 'download-gif', 'download-frames']) $(id).disabled = true;
  $('current-img').removeAttribute('src');
  $('child-count').max = String(S.limits.max_images);
  $('steps').max = String(S.limits.max_frames);
  renderKeyframes();
  renderMixSources();
  renderBreadcrumbs();
  renderLayerToggles();
  syncControls();
  resetTraining();
  const directions = await api(`${modelPath()}/directions`).catch((error) => { showError(error); return { directions: [] }; });
  S.directions = directions.directions;
  S.dirById = new Map(S.directions.map((d) => [d.id, d]));
  renderDirections();
  if (shared) await applyShared(shared);
  const grid = loadGrid();
  if (!$('panel-saved').hidden) loadSaved().catch(showError);
  if (!$('panel-training').hidden) pollTraining();
  await grid;
}

function wireControls() {
  const regrid = () => { loadGrid(); if (S.current) showCurrent(); };
  $('psi').addEventListener('input', () => { S.psi = Number($('psi').value); $('psi-value').textContent = String(S.psi); if (S.current && !S.current.final) showCurrent({ inputAt: performance.now() }); });
  $('psi').addEventListener('change', () => loadGrid());
  $('cutoff').addEventListener('change', () => { S.cutoff = $('cutoff').value === '' ? null : Number($('cutoff').value); regrid(); });
  $('noise').addEventListener('change', () => { S.noise = $('noise').value; syncControls(); regrid(); });
  $('noise-seed').addEventListener('change', () => { S.noiseSeed = Math.max(0, Number($('noise-seed').value) || 0); regrid(); });
  $('class').addEventListener('change', () => { S.cls = $('class').value; regrid(); });
  $('prev-page').addEventListener('click', () => setPage(S.page - 1));
  $('next-page').addEventListener('click', () => setPage(S.page + 1));
  $('page').addEventListener('change', () => setPage(Number($('page').value)));
  $('model').addEventListener('change', () => guarded(() => loadModel($('model').value)));
  $('error-close').addEventListener('click', clearError);
  $('edit-layers').addEventListener('change', () => {
    const value = $('edit-layers').value;
    $('edit-layers-custom-field').hidden = value !== 'custom';
    S.editLayers = value === 'custom' ? $('edit-layers-custom').value.trim() : value;
    if (S.current) showCurrent();
  });
  $('edit-layers-custom').addEventListener('change', () => { S.editLayers = $('edit-layers-custom').value.trim(); if (S.current) showCurrent(); });
  $('direction-filter').addEventListener('input', filterDirections);
  $('reset-edits').addEventListener('click', () => { S.edits.clear(); syncDirectionSliders(); if (S.current) showCurrent({ reset: true }); });
  const classPair = () => { S.edits.delete($('class-strength').dataset.direction || ''); $('class-strength').dataset.direction = classDirectionId(); };
  for (const id of ['class-from', 'class-to']) $(id).addEventListener('change', () => {
    const value = Number($('class-strength').value);
    classPair();
    $('class-strength').value = '0';
    $('class-strength-value').textContent = '0';
    if (value && S.current) showCurrent({ reset: true });
  });
  $('class-strength').addEventListener('input', () => {
    if (!$('class-strength').dataset.direction) $('class-strength').dataset.direction = classDirectionId();
    if ($('class-from').value === $('class-to').value) { showError(new Error('choose two different classes')); return; }
    onEditInput(classDirectionId(), Number($('class-strength').value), $('class-strength-value'));
  });
  $('copy-url').addEventListener('click', () => {
    const url = $('current-url').value;
    if (!url) return showError(new Error('a child has no stable URL until it is saved: press Save latent or Share link'));
    $('current-url').select();
    navigator.clipboard?.writeText(url).then(() => status('URL copied'), () => status('select the URL and copy it'));
    return undefined;
  });
  $('save').addEventListener('click', () => guarded(saveCurrent));
  $('share').addEventListener('click', () => guarded(share));
  $('spread').addEventListener('input', () => { $('spread-value').textContent = $('spread').value; });
  $('breed').addEventListener('click', () => guarded(breed));
  $('breed-again').addEventListener('click', () => { $('child-seed').value = String((Number($('child-seed').value) || 0) + 1); guarded(breed); });
  $('add-keyframe').addEventListener('click', () => guarded(() => { S.keyframes.push(snapshot()); renderKeyframes(); }));
  $('add-row').addEventListener('click', () => guarded(() => {
    if (S.rows.length >= S.limits.max_mix_side) throw new Error(`at most ${S.limits.max_mix_side} rows`);
    S.rows.push(snapshot()); renderMixSources();
  }));
  $('add-column').addEventListener('click', () => guarded(() => {
    if (S.columns.length >= S.limits.max_mix_side) throw new Error(`at most ${S.limits.max_mix_side} columns`);
    S.columns.push(snapshot()); renderMixSources();
  }));
  $('clear-keyframes').addEventListener('click', () => { S.keyframes = []; renderKeyframes(); });
  $('steps').addEventListener('input', () => { $('steps-value').textContent = $('steps').value; });
  $('interpolate').addEventListener('click', () => guarded(interpolate));
  $('play').addEventListener('click', togglePlayback);
  $('download-webp').addEventListener('click', () => guarded(() => downloadAnimation('webp')));
  $('download-gif').addEventListener('click', () => guarded(() => downloadAnimation('gif')));
  $('download-frames').addEventListener('click', downloadFrames);
  $('mix-from-grid').addEventListener('click', mixFromGrid);
  $('clear-mix').addEventListener('click', () => { S.rows = []; S.columns = []; renderMixSources(); });
  for (const button of document.querySelectorAll('#layer-presets button')) {
    button.addEventListener('click', () => { S.mixLayers = new Set(presetLayers(button.dataset.preset)); syncPresets(); });
  }
  $('mix').addEventListener('click', () => guarded(mix));
  $('refresh-saved').addEventListener('click', () => guarded(() => loadSaved()));
  $('saved-more').addEventListener('click', () => guarded(() => loadSaved(true)));
  $('checkpoint').addEventListener('input', showCheckpoint);
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') return clearError();
    const typing = event.target.closest?.('input, select, textarea');
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return undefined;
    if (event.key === '[') setPage(S.page - 1);
    else if (event.key === ']') setPage(S.page + 1);
    return undefined;
  });
  window.addEventListener('hashchange', () => {
    const q = readShared();
    if (q) guarded(() => (q.get('m') === S.info?.name ? applyShared(q).then(loadGrid) : loadModel(q.get('m'), q)));
  });
}

async function main() {
  live = new LiveImage($('current-img'));
  wireTabs();
  wireControls();
  const [models, limits] = await Promise.all([api('/v1/models'), api('/v1/limits').catch(() => null)]);
  if (limits) S.limits = { ...FALLBACK_LIMITS, ...limits };
  S.models = models.models;
  $('model').replaceChildren(...S.models.map((m) => new Option(`${m.name} (${m.resolution}px${m.c_dim ? `, ${m.c_dim} classes` : ''})`, m.name)));
  const shared = readShared();
  const name = shared?.get('m') || (S.models.find((m) => m.default) || S.models[0])?.name;
  if (!name) throw new Error('this server serves no models');
  await loadModel(name, shared);
  document.body.dataset.ready = 'true';
}

main().catch(showError);
