// The designers' playground: a static page on ganserve's public HTTP API only (no engine specifics).
// This entry point wires the page together: it loads the models and limits, switches models (which
// resets every view), wires the tabs and the buttons to the modules that do the work, and starts the
// page from a share link when the URL has one. The API key field: a 401 or 403 is said under it, and
// a new key reloads what was refused (the whole start, when the models could not be listed). The
// modules, from the bottom up: state (S, $, messages), requests, live-image, selection, then grid,
// directions, children, snapshots, interpolation, mixing, settings, saved, upload and training, each
// importing only modules below it.
import { api, apiKey, setApiKey } from './api.js';
import { $, FALLBACK_LIMITS, S, clearError, clearKeyProblem, guarded, showError, status } from './state.js';
import { modelPath } from './requests.js';
import { attachLiveImage, onEditsReplaced, renderBreadcrumbs, showCurrent } from './selection.js';
import { loadGrid, setPage } from './grid.js';
import { classDirectionId, filterDirections, onEditInput, renderDirections, syncDirectionSliders } from './directions.js';
import { breed } from './children.js';
import { renderKeyframes, renderMixSources, snapshot } from './snapshots.js';
import { downloadAnimation, downloadFrames, interpolate, togglePlayback } from './interpolation.js';
import { mix, mixFromGrid, presetLayers, renderLayerToggles, syncPresets } from './mixing.js';
import { syncControls, wireSettings } from './settings.js';
import { applyShared, loadSaved, readShared, saveCurrent, share } from './saved.js';
import { wireUpload } from './upload.js';
import { pollTraining, resetTraining, showCheckpoint, stopTraining } from './training.js';

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
  await loadDirections();
  if (shared) await applyShared(shared);
  const grid = loadGrid();
  if (!$('panel-saved').hidden) loadSaved().catch(showError);
  if (!$('panel-training').hidden) pollTraining();
  await grid;
}

async function loadDirections() {
  const directions = await api(`${modelPath()}/directions`).catch((error) => { showError(error); return { directions: [] }; });
  S.directions = directions.directions;
  S.dirById = new Map(S.directions.map((d) => [d.id, d]));
  renderDirections();
}

function wireControls() {
  wireSettings();
  $('prev-page').addEventListener('click', () => setPage(S.page - 1));
  $('next-page').addEventListener('click', () => setPage(S.page + 1));
  $('page').addEventListener('change', () => setPage(Number($('page').value)));
  $('model').addEventListener('change', () => guarded(() => loadModel($('model').value)));
  $('error-close').addEventListener('click', clearError);
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
  wireUpload();
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

// ---------------------------------------------------------------------------- start and the API key
// The models and limits, then the chosen model. With keys required, this fails (a 401 or 403, said
// under the key field) until a good key is entered; the key's change runs it again.
async function start() {
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

// After a new key: start the page if it has not started, else redraw what the old key may have had
// refused (the directions, the grid and then the selected image, the open tab's list or log).
async function keyChanged() {
  clearKeyProblem();
  if (!S.info) return start();
  if (!S.directions.length) await loadDirections();
  const grid = loadGrid();
  if (!$('panel-saved').hidden) loadSaved().catch(showError);
  if (!$('panel-training').hidden) { stopTraining(); pollTraining(); }
  return grid;
}

// One (re)load at a time, in order; a second request for the key already being loaded is dropped
// (Enter in the field fires both change and submit).
let loading = Promise.resolve();
let loadingKey = null;
function load(fn) {
  const key = apiKey();
  if (loadingKey === key) return;
  loadingKey = key;
  loading = loading.then(() => guarded(fn)).then(() => { if (loadingKey === key) loadingKey = null; });
}

function wireKey() {
  const input = $('api-key');
  input.value = apiKey();
  const apply = () => { setApiKey(input.value.trim()); load(keyChanged); };
  input.addEventListener('change', apply);
  $('api-key-form').addEventListener('submit', (event) => { event.preventDefault(); apply(); });
}

attachLiveImage($('current-img'));
onEditsReplaced(syncDirectionSliders);
wireTabs();
wireControls();
wireKey();
load(start);
