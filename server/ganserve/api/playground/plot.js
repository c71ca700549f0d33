// Line charts drawn as inline SVG, no library: one chart per group of metrics against kimg.
const SVG = 'http://www.w3.org/2000/svg';
const COLORS = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed'];
const W = 360, H = 180, PAD = { left: 48, right: 10, top: 22, bottom: 28 };

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function fmt(v) {
  if (!Number.isFinite(v)) return '';
  const a = Math.abs(v);
  return a !== 0 && (a < 0.01 || a >= 1e4) ? v.toExponential(1) : String(Number(v.toPrecision(3)));
}

// series: [{name, points: [[x, y], ...]}]; returns the <svg> (replacing svg's content).
export function drawChart(svg, title, series, xLabel = 'kimg') {
  svg.replaceChildren();
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('role', 'img');
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const count = series.reduce((n, s) => n + s.points.length, 0);
  svg.dataset.points = String(count);
  const summary = series.map((s) => {
    const last = s.points.at(-1);
    return last ? `${s.name} ${fmt(last[1])} at ${fmt(last[0])} ${xLabel}` : `${s.name}: no data`;
  }).join('; ');
  svg.setAttribute('aria-label', `${title}: ${summary}`);
  svg.append(el('title', {}, `${title}: ${summary}`));
  svg.append(el('text', { x: PAD.left, y: 14, class: 'chart-title' }, title));
  if (!all.length) {
    svg.append(el('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'chart-empty' }, 'no data yet'));
    return svg;
  }
  let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const px = (x) => PAD.left + ((x - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const py = (y) => H - PAD.bottom - ((y - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);
  const axes = el('g', { class: 'chart-axes' });
  axes.append(el('line', { x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom }));
  axes.append(el('line', { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom }));
  for (const y of [y0, (y0 + y1) / 2, y1]) {
    axes.append(el('text', { x: PAD.left - 4, y: py(y) + 3, 'text-anchor': 'end' }, fmt(y)));
    axes.append(el('line', { x1: PAD.left, y1: py(y), x2: W - PAD.right, y2: py(y), class: 'chart-grid' }));
  }
  for (const x of [x0, (x0 + x1) / 2, x1]) axes.append(el('text', { x: px(x), y: H - PAD.bottom + 13, 'text-anchor': 'middle' }, fmt(x)));
  axes.append(el('text', { x: W - PAD.right, y: H - 3, 'text-anchor': 'end' }, xLabel));
  svg.append(axes);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const points = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    const line = el('polyline', {
      points: points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' '),
      fill: 'none', stroke: color, 'stroke-width': 1.5, class: 'chart-line', 'data-series': s.name, 'data-count': points.length,
    });
    svg.append(line);
    if (points.length === 1) svg.append(el('circle', { cx: px(points[0][0]), cy: py(points[0][1]), r: 2.5, fill: color }));
    const lx = PAD.left + 110 + i * 80;
    svg.append(el('rect', { x: lx, y: 6, width: 10, height: 3, fill: color }));
    svg.append(el('text', { x: lx + 14, y: 11, class: 'chart-legend' }, s.name));
  });
  return svg;
}
