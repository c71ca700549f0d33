// Interpolation: POST /interpolations through the keyframes (slerp in Z for seeds, lerp in W for
// anything), shown as a strip of frames with a player, and downloaded as WebP, GIF or a ZIP of PNGs.
import { api, base64Bytes, dataUrl, download } from './api.js';
import { $, S, status } from './state.js';
import { decoded, latentBody, modelPath, options } from './requests.js';
import { asOneKind } from './snapshots.js';
import { zipStore } from './zip.js';

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

export async function interpolate() {
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

export function stopPlayback() {
  if (playTimer) clearInterval(playTimer);
  playTimer = null;
  $('play').setAttribute('aria-pressed', 'false');
  $('play').textContent = 'Play';
}

export function togglePlayback() {
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

export async function downloadAnimation(format) {
  const body = await interpolationRequest('animation', format);
  const response = await api(`${modelPath()}/interpolations`, { method: 'POST', body, raw: true });
  download(await response.blob(), `${S.info.name}-interpolation.${format}`);
}

export function downloadFrames() {
  const files = S.frames.map((f) => ({ name: `frame${String(f.index).padStart(3, '0')}.png`, bytes: base64Bytes(f.data) }));
  download(zipStore(files), `${S.info.name}-frames.zip`);
}
