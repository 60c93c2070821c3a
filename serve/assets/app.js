// tinyscale dashboard: polls the JSON endpoints of `tinyscale serve` and
// redraws the runs table and the loss curves in place (no reload, no
// external scripts).
'use strict';

const SVGNS = 'http://www.w3.org/2000/svg';
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

const state = {
  runs: [],
  series: new Map(),   // run name -> {step: [], loss: [], evals: [], last: 0, status, stepsTotal}
  chosen: new Set(),   // runs whose curves are drawn
  unchosen: new Set(), // running runs the user unticked (not re-added automatically)
  pollMS: 1000,
  sampleRun: '',
  started: false,      // the first runs list has been seen
};

async function getJSON(url) {
  const r = await fetch(url, {cache: 'no-store'});
  if (!r.ok) {
    let msg = r.status + ' ' + r.statusText;
    try { msg = (await r.json()).error || msg; } catch (e) { /* not JSON */ }
    throw new Error(url + ': ' + msg);
  }
  return r.json();
}

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function fmtNum(v, digits) { return v === null || v === undefined ? '–' : v.toFixed(digits); }

function fmtDuration(s) {
  if (s === null || s === undefined) return '–';
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (h > 0) return h + 'h' + String(m).padStart(2, '0') + 'm';
  if (m > 0) return m + 'm' + String(sec).padStart(2, '0') + 's';
  return sec + 's';
}

function fmtParams(n) {
  if (!n) return '–';
  if (n >= 1e6) return (n / 1e6).toFixed(2) + 'M';
  if (n >= 1e3) return (n / 1e3).toFixed(1) + 'K';
  return String(n);
}

function colorOf(name) {
  const i = state.runs.findIndex(r => r.name === name);
  return COLORS[(i < 0 ? 0 : i) % COLORS.length];
}

function setLive(text, error) {
  const live = document.getElementById('live');
  live.textContent = text;
  live.classList.toggle('error', !!error);
}

// refreshRuns reloads the runs table and picks the running runs to draw.
async function refreshRuns() {
  const resp = await getJSON('api/runs');
  state.runs = resp.runs;
  state.pollMS = resp.poll_ms || 1000;
  document.getElementById('db').textContent = resp.db;
  for (const r of resp.runs) {
    if (r.status === 'running' && !r.stalled && !state.unchosen.has(r.name)) state.chosen.add(r.name);
    // A run started afresh (or resumed from an earlier checkpoint) has fewer
    // steps than the page holds: load its curve again.
    const s = state.series.get(r.name);
    if (s && r.step < s.last) state.series.delete(r.name);
  }
  // Nothing training at first sight: draw the most recently updated run.
  if (!state.started && state.chosen.size === 0) {
    const withSteps = resp.runs.filter(r => r.step > 0);
    withSteps.sort((a, b) => (b.updated_at || '').localeCompare(a.updated_at || ''));
    if (withSteps.length > 0) state.chosen.add(withSteps[0].name);
  }
  state.started = true;
  renderRuns();
  renderSampleChoices();
}

function renderRuns() {
  const body = document.querySelector('#runs tbody');
  body.replaceChildren();
  document.getElementById('runs-empty').hidden = state.runs.length > 0;
  for (const r of state.runs) {
    const tr = el('tr', {'data-run': r.name, 'data-status': r.status});
    const box = el('input', {type: 'checkbox', 'aria-label': 'draw ' + r.name});
    box.checked = state.chosen.has(r.name);
    box.addEventListener('change', () => {
      if (box.checked) { state.chosen.add(r.name); state.unchosen.delete(r.name); }
      else { state.chosen.delete(r.name); state.unchosen.add(r.name); }
      refreshSeries().catch(showError);
    });
    const c0 = el('td'); c0.append(box); tr.append(c0);
    tr.append(el('td', {class: 'name'}, r.name));
    tr.append(el('td', {}, r.family));
    tr.append(el('td', {class: 'num'}, fmtParams(r.params_total)));
    const st = el('td', {class: 'status-' + r.status}, r.status + (r.stalled ? ' (stalled)' : ''));
    if (r.stalled) st.classList.add('stalled');
    if (r.fail_reason) st.append(el('div', {class: 'fail'}, r.fail_reason));
    tr.append(st);
    tr.append(el('td', {class: 'num'}, r.steps_total ? r.step + '/' + r.steps_total : String(r.step)));
    const pc = el('td');
    if (r.progress !== null) {
      const bar = el('span', {class: 'bar'});
      const fill = el('span');
      fill.style.width = (100 * r.progress).toFixed(1) + '%';
      bar.append(fill);
      pc.append(bar, document.createTextNode((100 * r.progress).toFixed(1) + '%'));
    } else {
      pc.textContent = '–';
    }
    tr.append(pc);
    tr.append(el('td', {class: 'num eta'}, fmtDuration(r.eta_s)));
    tr.append(el('td', {class: 'num'}, fmtDuration(r.elapsed_s)));
    tr.append(el('td', {class: 'num'}, fmtNum(r.last_loss, 4)));
    tr.append(el('td', {class: 'num'}, fmtNum(r.best_val_loss, 4)));
    body.append(tr);
  }
}

// refreshSeries fetches the new steps of every drawn run and redraws.
async function refreshSeries() {
  for (const name of state.chosen) {
    let s = state.series.get(name);
    if (!s) {
      s = {step: [], loss: [], evals: [], last: 0, status: '', stepsTotal: 0};
      state.series.set(name, s);
    }
    for (let more = true; more;) {
      const resp = await getJSON('api/steps?run=' + encodeURIComponent(name) + '&after=' + s.last);
      for (let i = 0; i < resp.step.length; i++) {
        s.step.push(resp.step[i]);
        s.loss.push(resp.loss[i]);
      }
      s.last = resp.last;
      s.evals = resp.evals;
      s.status = resp.status;
      s.stepsTotal = resp.steps_total;
      more = resp.more;
    }
  }
  drawChart();
}

// niceTicks returns round tick values between lo and hi, with the number of
// decimals that labels need.
function niceTicks(lo, hi, n) {
  if (!(hi > lo)) { hi = lo + 1; }
  const raw = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map(m => m * mag).find(x => x >= raw);
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const out = [];
  for (let k = Math.ceil(lo / step); k * step <= hi + 1e-9 * step; k++) out.push({v: k * step, label: (k * step).toFixed(decimals)});
  return out;
}

function drawChart() {
  const chart = document.getElementById('chart');
  const legend = document.getElementById('legend');
  chart.replaceChildren();
  legend.replaceChildren();
  const W = 900, H = 380, L = 56, R = 16, T = 12, B = 36;
  const names = [...state.chosen].filter(n => state.series.has(n));
  if (names.length === 0) {
    const msg = svg('text', {x: W / 2, y: H / 2, 'text-anchor': 'middle'});
    msg.textContent = 'No curve selected: tick a run above.';
    chart.append(msg);
    return;
  }
  let xmax = 1, ylo = Infinity, yhi = -Infinity;
  for (const n of names) {
    const s = state.series.get(n);
    xmax = Math.max(xmax, s.stepsTotal || 0, s.last);
    for (const v of s.loss) if (v !== null) { ylo = Math.min(ylo, v); yhi = Math.max(yhi, v); }
    for (const e of s.evals) if (e.loss !== null && (e.split === 'val' || e.split === 'final_val')) { ylo = Math.min(ylo, e.loss); yhi = Math.max(yhi, e.loss); }
  }
  if (!isFinite(ylo)) { ylo = 0; yhi = 1; }
  const pad = 0.04 * (yhi - ylo || 1);
  ylo -= pad; yhi += pad;
  const x = v => L + (W - L - R) * v / xmax;
  const y = v => T + (H - T - B) * (1 - (v - ylo) / (yhi - ylo));
  for (const t of niceTicks(ylo, yhi, 6)) {
    chart.append(svg('line', {class: 'grid', x1: L, x2: W - R, y1: y(t.v), y2: y(t.v)}));
    const lab = svg('text', {x: L - 6, y: y(t.v) + 4, 'text-anchor': 'end'});
    lab.textContent = t.label;
    chart.append(lab);
  }
  for (const t of niceTicks(0, xmax, 8)) {
    const lab = svg('text', {x: x(t.v), y: H - B + 16, 'text-anchor': 'middle'});
    lab.textContent = t.label;
    chart.append(lab);
  }
  chart.append(svg('line', {class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B}));
  chart.append(svg('line', {class: 'axis', x1: L, x2: L, y1: T, y2: H - B}));
  const xl = svg('text', {x: (L + W - R) / 2, y: H - 4, 'text-anchor': 'middle'});
  xl.textContent = 'step';
  chart.append(xl);
  for (const n of names) {
    const s = state.series.get(n);
    const color = colorOf(n);
    const stride = Math.max(1, Math.ceil(s.step.length / 1500));
    const pts = [];
    for (let i = 0; i < s.step.length; i += stride) {
      if (s.loss[i] !== null) pts.push(x(s.step[i]).toFixed(1) + ',' + y(s.loss[i]).toFixed(1));
    }
    const line = svg('polyline', {points: pts.join(' '), stroke: color, 'data-run': n, 'data-points': s.step.length});
    chart.append(line);
    for (const e of s.evals) {
      if (e.loss === null || (e.split !== 'val' && e.split !== 'final_val')) continue;
      chart.append(svg('circle', {cx: x(e.step), cy: y(e.loss), r: 4, fill: '#fff', stroke: color, 'stroke-width': 2, class: 'val', 'data-run': n}));
    }
    const item = el('span');
    const sw = el('i');
    sw.style.background = color;
    item.append(sw, document.createTextNode(n + ' (' + s.status + ', ' + s.step.length + ' steps)'));
    legend.append(item);
  }
}

function renderSampleChoices() {
  const sel = document.getElementById('sample-run');
  const names = state.runs.map(r => r.name);
  if (sel.options.length === names.length && [...sel.options].every((o, i) => o.value === names[i])) return;
  sel.replaceChildren(...names.map(n => el('option', {value: n}, n)));
  if (!names.includes(state.sampleRun)) state.sampleRun = names[0] || '';
  sel.value = state.sampleRun;
}

async function refreshSamples() {
  const box = document.getElementById('samples');
  if (!state.sampleRun) { box.replaceChildren(); return; }
  const samples = await getJSON('api/samples?run=' + encodeURIComponent(state.sampleRun));
  box.replaceChildren();
  if (samples.length === 0) box.append(el('p', {class: 'hint'}, 'No samples for this run yet.'));
  for (const s of samples) {
    const d = el('div', {class: 'sample'});
    d.append(el('div', {class: 'hint'}, 'step ' + s.step + ' · prompt ' + JSON.stringify(s.prompt)));
    d.append(el('pre', {}, s.text));
    box.append(d);
  }
}

function showError(err) { setLive('update failed: ' + err.message, true); }

async function tick() {
  try {
    await refreshRuns();
    await refreshSeries();
    setLive('live · updated ' + new Date().toLocaleTimeString());
  } catch (err) {
    showError(err);
  }
  // A tab in the background polls ten times less often.
  setTimeout(tick, document.hidden ? 10 * state.pollMS : state.pollMS);
}

async function sampleTick() {
  try { await refreshSamples(); } catch (err) { showError(err); }
  setTimeout(sampleTick, 10000);
}

document.getElementById('sample-run').addEventListener('change', e => {
  state.sampleRun = e.target.value;
  refreshSamples().catch(showError);
});
document.getElementById('show-report').addEventListener('click', () => {
  const f = document.getElementById('report');
  f.hidden = false;
  f.src = 'report/';
});

// For tests and the console: the number of loaded points of each drawn curve.
window.tinyscaleCurvePoints = () => Object.fromEntries([...state.chosen].filter(n => state.series.has(n)).map(n => [n, state.series.get(n).step.length]));

tick().then(() => sampleTick());
