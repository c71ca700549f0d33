// Keyframes, rows and columns: snapshots of the selected latent as it is shown (with its edits and
// a thumbnail), kept in S.keyframes, S.rows and S.columns and listed as removable chips. asOneKind()
// turns such a list into one request's latents, which interpolation and style mixing both need.
import { compactWs } from './api.js';
import { $, S } from './state.js';
import { currentEdits, latentBody, options, renderBatch } from './requests.js';

export function snapshot() {
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

export const renderKeyframes = () => renderChips('keyframes', S.keyframes, renderKeyframes);
export const renderMixSources = () => {
  renderChips('mix-rows', S.rows, renderMixSources);
  renderChips('mix-columns', S.columns, renderMixSources);
};

// A list of items as one request's latents: all plain (psi applies), or all final (psi 1), fetching
// the final ws of the plain ones at the current psi when the two kinds are mixed.
export async function asOneKind(items) {
  if (items.every((item) => !item.final)) return { latents: items.map((it) => latentBody(it.ref, it.edits)), opts: options(false) };
  const plain = items.map((item, i) => [item, i]).filter(([item]) => !item.final);
  const latents = items.map((it) => latentBody(it.ref, it.edits));
  if (plain.length) {
    const images = await renderBatch(plain.map(([item]) => item), { includeWs: true });
    plain.forEach(([, i], k) => { latents[i] = { ws: compactWs(images[k].ws) }; });
  }
  return { latents, opts: options(true) };
}
