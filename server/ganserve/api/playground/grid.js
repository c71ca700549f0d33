// The seed grid: one page of PER_PAGE seeds drawn at the current settings, each a button that
// selects its seed. A newer page (or new settings) aborts the grid still loading; each finished grid
// is timed into window.__ganservePerf and marked on the list's data-* attributes for the tests.
import { dataUrl } from './api.js';
import { $, PER_PAGE, S, entry, perf, showError, status } from './state.js';
import { decoded, renderBatch } from './requests.js';
import { select, showCurrent } from './selection.js';

let gridController = null;

export async function loadGrid() {
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

export function setPage(page) {
  S.page = Math.max(0, Math.floor(page) || 0);
  loadGrid();
}
