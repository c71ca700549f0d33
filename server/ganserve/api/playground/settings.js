// The drawing settings' controls (psi, cutoff, noise, noise seed, class, edit layers): syncControls()
// writes S into them (after a model change or a shared link), wireSettings() reads them back into S
// and redraws the grid and the selected latent.
import { $, S } from './state.js';
import { loadGrid } from './grid.js';
import { showCurrent } from './selection.js';

export function syncControls() {
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

export function wireSettings() {
  const regrid = () => { loadGrid(); if (S.current) showCurrent(); };
  $('psi').addEventListener('input', () => { S.psi = Number($('psi').value); $('psi-value').textContent = String(S.psi); if (S.current && !S.current.final) showCurrent({ inputAt: performance.now() }); });
  $('psi').addEventListener('change', () => loadGrid());
  $('cutoff').addEventListener('change', () => { S.cutoff = $('cutoff').value === '' ? null : Number($('cutoff').value); regrid(); });
  $('noise').addEventListener('change', () => { S.noise = $('noise').value; syncControls(); regrid(); });
  $('noise-seed').addEventListener('change', () => { S.noiseSeed = Math.max(0, Number($('noise-seed').value) || 0); regrid(); });
  $('class').addEventListener('change', () => { S.cls = $('class').value; regrid(); });
  $('edit-layers').addEventListener('change', () => {
    const value = $('edit-layers').value;
    $('edit-layers-custom-field').hidden = value !== 'custom';
    S.editLayers = value === 'custom' ? $('edit-layers-custom').value.trim() : value;
    if (S.current) showCurrent();
  });
  $('edit-layers-custom').addEventListener('change', () => { S.editLayers = $('edit-layers-custom').value.trim(); if (S.current) showCurrent(); });
}
