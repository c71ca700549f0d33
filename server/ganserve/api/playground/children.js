// Children: POST /children around the selected latent (with its edits), shown as a list of final
// ws; choosing one selects it and pushes it onto the lineage.
import { api, dataUrl } from './api.js';
import { $, S, entry, status } from './state.js';
import { currentEdits, decoded, latentBody, modelPath, options } from './requests.js';
import { select } from './selection.js';

export async function breed() {
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
