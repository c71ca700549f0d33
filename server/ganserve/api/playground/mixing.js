// Style mixing: POST /mixes of the rows by the columns, taking the chosen ws layers from the
// columns; the layer checkboxes and their presets (from the model's layer groups), and a quick way to
// fill rows and columns from the seed grid.
import { api } from './api.js';
import { $, PER_PAGE, S, status } from './state.js';
import { decoded, modelPath } from './requests.js';
import { asOneKind, renderMixSources } from './snapshots.js';

export function renderLayerToggles() {
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

export function presetLayers(name) {
  if (name === 'all') return Array.from({ length: S.info.num_ws }, (_, i) => i);
  return S.info.layer_groups?.[name] || [];
}

export function syncPresets() {
  const chosen = [...S.mixLayers].sort((a, b) => a - b).join(',');
  for (const button of document.querySelectorAll('#layer-presets button')) {
    const layers = presetLayers(button.dataset.preset);
    button.disabled = !layers.length;
    button.setAttribute('aria-pressed', String(layers.length > 0 && layers.join(',') === chosen));
  }
  for (const input of document.querySelectorAll('#layer-toggles input')) input.checked = S.mixLayers.has(Number(input.dataset.layer));
}

export function mixFromGrid() {
  const side = Math.min(S.limits.max_mix_side, 3);
  const seeds = Array.from({ length: PER_PAGE }, (_, i) => S.page * PER_PAGE + i);
  const imgs = [...document.querySelectorAll('#grid img')];
  const make = (k) => ({ ref: { seed: seeds[k] }, final: false, edits: [], label: `seed ${seeds[k]}`, thumb: imgs[k]?.src || '' });
  S.rows = Array.from({ length: side }, (_, k) => make(k));
  S.columns = Array.from({ length: side }, (_, k) => make(side + k));
  renderMixSources();
}

export async function mix() {
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
