// idcheck QC station page: hash routes over the daemon's JSON API on the same origin (relative
// URLs only, nothing loaded from elsewhere).
//   #/live        the station's current / last verification, live through the event stream
//   #/v/{id}      one stored verdict: status and advice, three columns (acceptance record,
//                 printed card, chip) with photos, text rows and fingerprint slots; every finding
//                 marked on its item with cause, score and threshold
//   #/batch/{id}  a QC batch: counts per cause, the invalid cards, links to each
//   #/batches     the QC batches
//   #/recent      recent verifications
// Marked cells carry data-item, data-col and data-cause (space-separated causes) so tests can
// check them; the marking rule is the one of src/web/mod.rs (row_key, finding_marks).
// Everything from the API is put into the page as text (textContent), never as HTML.
'use strict';

(function () {
  var COLS = [
    { key: 'acceptance', letter: 'A', zh: '受理信息', en: 'acceptance record' },
    { key: 'surface', letter: 'S', zh: '卡面', en: 'printed card' },
    { key: 'chip', letter: 'C', zh: '芯片', en: 'chip' }
  ];
  var CAUSES = {
    1: { zh: '受理信息与卡面不一致', en: 'acceptance record differs from the printed card' },
    2: { zh: '卡面与芯片不一致', en: 'printed card differs from the chip' },
    3: { zh: '芯片无法读取', en: 'the chip cannot be read or trusted' },
    4: { zh: '受理信息有误', en: 'the acceptance information is incorrect' }
  };
  var STATUS = {
    pass: { sym: '✔', zh: '合格', en: 'PASS' },
    invalid: { sym: '✖', zh: '无效', en: 'INVALID' },
    unavailable: { sym: '⚠', zh: '暂停服务', en: 'UNAVAILABLE' }
  };

  var main = null;
  var generation = 0;          // bumped at every route change; late answers of old routes are dropped
  var live = null;             // { es, state } while #/live is shown
  var current = { batch: null, verificationId: null }; // for n / p / b
  var batchCache = {};

  // ------------------------------------------------------------------ small helpers
  function el(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === 'text') e.textContent = String(v);
        else if (k === 'class') e.className = v;
        else e.setAttribute(k, v === true ? '' : String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }
  function add(parent, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { add(parent, c); }); return; }
    parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
  function zh(text) { return el('span', { lang: 'zh-Hans', text: text }); }
  function fmtNum(x) {
    if (typeof x !== 'number' || !isFinite(x)) return '—';
    var a = Math.abs(x);
    if (a !== 0 && (a < 0.001 || a >= 100000)) return x.toExponential(2);
    return String(Math.round(x * 1000) / 1000);
  }
  function str(x) { return x === null || x === undefined ? '' : String(x); }
  function arr(x) { return Array.isArray(x) ? x : []; }
  function obj(x) { return x && typeof x === 'object' && !Array.isArray(x) ? x : {}; }

  function toast(text) {
    var t = document.getElementById('toast');
    if (t) t.textContent = text || '';
  }

  function api(path) {
    return fetch(path, { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } })
      .then(function (r) {
        return r.text().then(function (text) {
          var body = null;
          try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
          if (!r.ok) {
            var msg = (body && body.error) || (r.status + ' ' + r.statusText);
            if (r.status === 401) msg = 'not signed in to the station (' + msg + '): open ui/login?token=… with the token of the station';
            var err = new Error(msg);
            err.status = r.status;
            throw err;
          }
          return body;
        });
      });
  }

  function show(gen, nodes, focusHeading) {
    if (gen !== generation) return false;
    main.textContent = '';
    add(main, nodes);
    main.setAttribute('data-ready', 'true');
    if (focusHeading) {
      var h = main.querySelector('h1');
      if (h) { h.setAttribute('tabindex', '-1'); h.focus({ preventScroll: true }); }
    }
    return true;
  }
  function showError(gen, what, err) {
    show(gen, [el('h1', { text: what }), el('p', { class: 'error', role: 'alert', text: err && err.message ? err.message : String(err) })], true);
  }

  // ------------------------------------------------------------------ marking rule (src/web/mod.rs)
  function rowKey(item) {
    item = str(item);
    if (item === 'chip' || item.indexOf('chip.') === 0 || item.indexOf('chip[') === 0) return 'chip';
    if (item.indexOf('fingerprint[') === 0) {
      var end = item.indexOf(']');
      if (end > 0) return item.slice(0, end + 1);
    }
    var m = item.search(/[.[]/);
    return m < 0 ? item : item.slice(0, m);
  }
  function sourceCols(sources) {
    sources = str(sources);
    return COLS.filter(function (c) { return sources.indexOf(c.letter) >= 0; }).map(function (c) { return c.key; });
  }
  function findingCells(f) {
    var row = rowKey(f.item);
    var cols = row === 'chip' ? ['chip'] : sourceCols(f.sources);
    return cols.map(function (c) { return { item: row, col: c }; });
  }
  // { "name|surface": [finding, ...] }
  function markIndex(verdict) {
    var idx = {};
    arr(verdict.findings).forEach(function (f, i) {
      if (typeof f.cause !== 'number') return;
      findingCells(f).forEach(function (cell) {
        var k = cell.item + '|' + cell.col;
        (idx[k] = idx[k] || []).push({ f: f, i: i });
      });
    });
    return idx;
  }
  // not_checked: "surface" / "chip" are whole columns; other items mark their row's cells
  function notCheckedIndex(verdict) {
    var idx = { cols: {}, cells: {} };
    arr(verdict.not_checked).forEach(function (n) {
      var item = str(n.item);
      if (item === 'surface' || item === 'chip' || item === 'acceptance') {
        (idx.cols[item] = idx.cols[item] || []).push(n);
        return;
      }
      var row = rowKey(item);
      sourceCols(n.sources).forEach(function (c) {
        var k = row + '|' + c;
        (idx.cells[k] = idx.cells[k] || []).push(n);
      });
    });
    return idx;
  }

  // a finding resting on chip content that failed passive authentication carries chip_unauthenticated
  var CHIP_UNAUTHENTICATED = 'not authenticated: passive authentication failed; the content was compared, its differences are cause 2';
  function chipUnauthenticated(verdict) {
    return arr(verdict.findings).some(function (f) { return f && f.chip_unauthenticated === true; });
  }

  function causeBadge(cause, extra) {
    var c = CAUSES[cause];
    return el('span', { class: 'badge cause-' + cause, title: c ? c.en : '' }, '⚑ cause ' + cause + (extra || ''));
  }
  function scoreText(f) {
    if (typeof f.score !== 'number') return '';
    var s = ' · score ' + fmtNum(f.score);
    if (typeof f.threshold === 'number') s += ' · threshold ' + fmtNum(f.threshold);
    return s;
  }
  function cellId(item, col) { return 'cell-' + item.replace(/[^A-Za-z0-9_-]/g, '_') + '-' + col; }

  // Marks a cell (td or th) of row `item`, column `col`: data attributes, class, badges.
  function decorate(cell, item, col, marks, nc) {
    cell.setAttribute('data-item', item);
    cell.setAttribute('data-col', col);
    var ms = marks[item + '|' + col] || [];
    if (ms.length) {
      var causes = [];
      ms.forEach(function (m) { if (causes.indexOf(m.f.cause) < 0) causes.push(m.f.cause); });
      causes.sort();
      cell.setAttribute('data-cause', causes.join(' '));
      cell.setAttribute('data-mark', '');
      cell.classList.add('cause-' + causes[0]);
      cell.id = cellId(item, col);
      cell.setAttribute('tabindex', '-1');
      var box = el('span', { class: 'marks' });
      ms.forEach(function (m) {
        box.appendChild(causeBadge(m.f.cause, scoreText(m.f)));
        if (m.f.borderline) box.appendChild(el('span', { class: 'badge borderline', text: 'borderline: please look' }));
      });
      cell.appendChild(box);
    }
    var ns = nc.cells[item + '|' + col] || [];
    if (ns.length) {
      cell.setAttribute('data-not-checked', ns.map(function (n) { return str(n.sources); }).join(' '));
      ns.forEach(function (n) { cell.appendChild(el('span', { class: 'badge nc', text: 'not checked: ' + str(n.reason) })); });
    }
    return cell;
  }

  // ------------------------------------------------------------------ verdict view
  function banner(view) {
    var v = obj(view.verdict);
    var status = STATUS[v.status] ? v.status : 'unavailable';
    var s = STATUS[status];
    var causes = arr(v.causes);
    var head = el('p', { class: 'status' }, el('span', { class: 'sym', 'aria-hidden': 'true', text: s.sym }), zh(s.zh), ' ', s.en);
    if (status === 'invalid' && causes.length) head.appendChild(document.createTextNode(' — cause ' + causes.join(', ')));
    var b = el('section', { class: 'banner status-' + status, 'data-status': status, 'aria-label': 'verdict' }, head);
    if (v.advice) b.appendChild(el('p', { class: 'advice', text: v.advice }));
    if (v.unavailable_reason) b.appendChild(el('p', { class: 'reason', text: 'Reason: ' + v.unavailable_reason }));
    if (causes.length) {
      b.appendChild(el('ul', { class: 'cause-list', 'aria-label': 'causes' }, causes.map(function (c) {
        var t = CAUSES[c] || { zh: '', en: 'unknown cause' };
        return el('li', null, causeBadge(c, (v.primary === c ? ' (primary)' : '')), ' ', zh(t.zh), ' ', t.en);
      })));
    }
    return b;
  }

  function metaList(view) {
    var items = [
      ['verification', view.id], ['record', view.record_id], ['scan', view.scan_id],
      ['reader', view.reader], ['finished', view.finished_at]
    ];
    var dl = el('dl', { class: 'meta' });
    items.forEach(function (p) {
      if (p[1] === null || p[1] === undefined || p[1] === '') return;
      dl.appendChild(el('div', null, el('dt', { text: p[0] }), el('dd', { text: str(p[1]) })));
    });
    var carries = carriesText(view);
    if (carries) dl.appendChild(el('div', { 'data-carries': '' }, el('dt', { text: 'whose data' }), el('dd', { text: carries })));
    if (view.batch !== null && view.batch !== undefined) {
      dl.appendChild(el('div', null, el('dt', { text: 'batch' }),
        el('dd', null, el('a', { href: '#/batch/' + encodeURIComponent(str(view.batch)), text: str(view.batch) }))));
    }
    return dl;
  }

  function findingsList(view) {
    var v = obj(view.verdict);
    var fs = arr(v.findings);
    var out = [];
    if (fs.length) {
      out.push(el('h2', { id: 'findings-heading', text: 'Findings (' + fs.length + ')' }));
      out.push(el('ol', { class: 'findings', 'aria-labelledby': 'findings-heading' }, fs.map(function (f, i) {
        var cells = findingCells(f);
        var where = cells.map(function (c) { return c.col; }).join(' & ');
        var li = el('li', { class: 'cause-' + f.cause, 'data-finding': i },
          el('div', { class: 'what' }, causeBadge(f.cause), ' ', str(f.item), ' ',
            el('span', { class: 'muted', text: '(' + str(f.sources) + (where ? ': ' + where : '') + ')' })));
        if (f.expected !== null && f.expected !== undefined || f.actual !== null && f.actual !== undefined) {
          li.appendChild(el('div', { class: 'values', lang: 'zh-Hans' },
            el('span', null, 'expected: ', el('strong', { text: f.expected === null || f.expected === undefined ? '—' : str(f.expected) })),
            el('span', null, 'actual: ', el('strong', { text: f.actual === null || f.actual === undefined ? '—' : str(f.actual) }))));
        }
        if (typeof f.score === 'number') {
          li.appendChild(el('div', { class: 'values' },
            el('span', { text: 'score ' + fmtNum(f.score) }),
            el('span', { text: 'threshold ' + (typeof f.threshold === 'number' ? fmtNum(f.threshold) : '—') }),
            f.borderline ? el('span', { class: 'badge borderline', text: 'borderline: please look' }) : null));
        }
        if (f.chip_unauthenticated === true) li.appendChild(el('div', { class: 'values' }, el('span', { class: 'badge unauth', 'data-unauthenticated': '', text: 'chip not authenticated' })));
        if (f.detail) li.appendChild(el('div', { class: 'detail', text: f.detail }));
        if (cells.length) {
          var target = cellId(cells[0].item, cells[0].col);
          var a = el('a', { class: 'goto', href: '#' + target, text: 'show in the table', 'data-target': target });
          a.addEventListener('click', function (ev) {
            ev.preventDefault();
            var t = document.getElementById(target);
            if (t) { t.scrollIntoView({ block: 'center' }); t.focus({ preventScroll: true }); }
          });
          li.appendChild(a);
        }
        return li;
      })));
    }
    var nc = arr(v.not_checked);
    if (nc.length) {
      out.push(el('h2', { text: 'Not checked' }));
      out.push(el('ul', { class: 'notchecked' }, nc.map(function (n) {
        return el('li', { 'data-not-checked-item': str(n.item) }, el('span', { class: 'badge nc', text: 'not checked' }), ' ',
          str(n.item) + ' (' + str(n.sources) + '): ' + str(n.reason));
      })));
    }
    return out;
  }

  function grid(view) {
    var v = obj(view.verdict);
    var marks = markIndex(v);
    var nc = notCheckedIndex(v);
    var photos = obj(view.photos);
    var rows = arr(view.rows);
    var fingers = arr(view.fingers);
    // an unjudged card: nothing was read or compared, so there is nothing to put side by side
    if (v.status === 'unavailable' && !rows.length && !fingers.length) {
      return el('p', { class: 'absent', 'data-not-compared': 'true',
        text: 'Nothing was compared: the station could not judge this card (see the reason above).' });
    }

    var table = el('table', { class: 'grid', 'aria-label': 'acceptance record, printed card and chip side by side' });
    table.appendChild(el('colgroup', null, el('col', { class: 'label' }), el('col'), el('col'), el('col')));
    var htr = el('tr', null, el('th', { scope: 'col', text: 'item' }));
    COLS.forEach(function (c) {
      var th = el('th', { scope: 'col', 'data-col-head': c.key }, zh(c.zh), ' ', c.en, ' (' + c.letter + ')');
      // a chip step finding marks the chip column as a whole: its header carries the mark
      if (c.key === 'chip') decorate(th, 'chip', 'chip', marks, { cells: {}, cols: {} });
      // chip content that failed passive authentication was compared all the same: shown, marked
      if (c.key === 'chip' && chipUnauthenticated(v)) {
        th.setAttribute('data-unauthenticated', '');
        th.appendChild(el('span', { class: 'badge unauth', text: CHIP_UNAUTHENTICATED }));
      }
      var whole = nc.cols[c.key] || [];
      if (whole.length) {
        th.setAttribute('data-not-checked', whole.map(function (n) { return str(n.sources); }).join(' '));
        whole.forEach(function (n) { th.appendChild(el('span', { class: 'badge nc', text: 'not checked: ' + str(n.reason) })); });
      }
      htr.appendChild(th);
    });
    table.appendChild(el('thead', null, htr));
    var body = el('tbody');
    table.appendChild(body);
    var seen = { chip: true };

    function row(item, label, cellFn, cls) {
      seen[item] = true;
      var tr = el('tr', { 'data-row': item, class: cls || null }, el('th', { scope: 'row' }, label));
      COLS.forEach(function (c) {
        var td = el('td');
        if (nc.cols[c.key]) td.classList.add('nc-col');
        cellFn(td, c.key);
        tr.appendChild(decorate(td, item, c.key, marks, nc));
      });
      body.appendChild(tr);
    }

    // photos
    row('photo', [zh('照片'), ' photo'], function (td, col) {
      td.classList.add('photo');
      var url = photos[col];
      if (typeof url === 'string' && url) {
        td.appendChild(el('img', { src: url, alt: col + ' photo', loading: 'lazy', decoding: 'async' }));
        if (col === 'surface') td.appendChild(el('span', { class: 'score', text: 'cropped from the scan' }));
      } else {
        td.classList.add('absent');
        td.appendChild(document.createTextNode('no photo'));
      }
    });

    // text items
    rows.forEach(function (r) {
      var item = str(r.item);
      var label = str(r.label) || item;
      row(item, el('span', { lang: 'zh-Hans', text: label }), function (td, col) {
        var val = r[col];
        if (val === null || val === undefined || val === '') {
          td.classList.add('absent');
          td.textContent = '—';
        } else {
          td.classList.add('value');
          td.setAttribute('lang', 'zh-Hans');
          td.textContent = str(val);
        }
      });
    });

    // items named by findings that have no row of their own (so every finding shows somewhere)
    arr(v.findings).forEach(function (f) {
      findingCells(f).forEach(function (c) {
        if (seen[c.item] || c.item.indexOf('fingerprint') === 0) return;
        row(c.item, c.item, function (td) { td.classList.add('absent'); td.textContent = '—'; });
      });
    });

    // fingerprints
    var fpItems = {};
    fingers.forEach(function (fp) { fpItems['fingerprint[' + fp.position + ']'] = true; });
    arr(v.findings).forEach(function (f) {
      findingCells(f).forEach(function (c) { if (/^fingerprint\[/.test(c.item)) fpItems[c.item] = true; });
    });
    row('fingerprints', [zh('指纹'), ' fingerprints'], function (td, col) {
      if (col === 'surface') { td.classList.add('absent'); td.textContent = 'not printed on the card'; return; }
      var n = fingers.filter(function (fp) { return fp && fp[col]; }).length;
      td.textContent = n + (n === 1 ? ' finger' : ' fingers');
    }, 'section');
    var slots = fingers.slice();
    Object.keys(fpItems).forEach(function (k) {
      var pos = Number(k.slice(12, -1));
      if (!slots.some(function (fp) { return fp && fp.position === pos; })) slots.push({ position: pos });
    });
    slots.sort(function (a, b) { return (a.position || 0) - (b.position || 0); });
    slots.forEach(function (fp) {
      var item = 'fingerprint[' + fp.position + ']';
      row(item, [zh('指纹 ' + fp.position), ' fingerprint ' + fp.position], function (td, col) {
        if (col === 'surface') { td.classList.add('absent'); td.textContent = '—'; return; }
        var f = fp[col];
        if (!f) { td.classList.add('absent'); td.textContent = '—'; }
        else {
          td.classList.add('value');
          td.appendChild(document.createTextNode(str(f.finger) + (typeof f.quality === 'number' ? ' · quality ' + f.quality : '')));
        }
        if (col === 'chip' && typeof fp.score === 'number') {
          td.appendChild(el('span', { class: 'score', text: 'A~C score ' + fmtNum(fp.score) +
            (typeof fp.threshold === 'number' ? ' · threshold ' + fmtNum(fp.threshold) : '') }));
        }
      });
    });
    return table;
  }

  function observations(view) {
    var obs = arr(obj(view.verdict).observations);
    if (!obs.length) return null;
    return [el('h2', { text: 'Scores compared against thresholds' }),
      el('table', { class: 'list' },
        el('thead', null, el('tr', null, ['item', 'sources', 'score', 'threshold', 'result'].map(function (h) { return el('th', { scope: 'col', text: h }); }))),
        el('tbody', null, obs.map(function (o) {
          return el('tr', { class: o.borderline ? 'borderline' : null },
            el('td', { text: str(o.item) }), el('td', { text: str(o.sources) }),
            el('td', { class: 'num', text: fmtNum(o.score) }), el('td', { class: 'num', text: fmtNum(o.threshold) }),
            el('td', null, str(o.detail), o.borderline ? [' ', el('span', { class: 'badge borderline', text: 'borderline' })] : null));
        })))];
  }

  function verdictView(view, heading) {
    var v = obj(view.verdict);
    return el('article', { class: 'verdict', 'data-verification': str(view.id), 'data-status': str(v.status) },
      el('h1', { text: heading || ('Verification ' + str(view.id)) }),
      banner(view), metaList(view), batchNav(view), findingsList(view), el('h2', { text: 'Side by side' }), grid(view),
      observations(view));
  }

  // ------------------------------------------------------------------ batch navigation (n / p / b)
  function invalidItems(batch) {
    return arr(batch && batch.items).filter(function (it) { return it.status === 'invalid' && it.verification_id !== null && it.verification_id !== undefined; });
  }
  function batchNav(view) {
    if (view.batch === null || view.batch === undefined) return null;
    var nav = el('nav', { class: 'batchnav', 'aria-label': 'invalid cards of the batch', 'data-batch-nav': str(view.batch) },
      el('span', { class: 'muted', text: 'Batch ' + str(view.batch) + '…' }));
    var gen = generation;
    loadBatch(view.batch).then(function (batch) {
      if (gen !== generation) return;
      current.batch = batch;
      var inv = invalidItems(batch);
      var i = inv.findIndex(function (it) { return String(it.verification_id) === String(view.id); });
      nav.textContent = '';
      var prev = i > 0 ? inv[i - 1] : (i < 0 && inv.length ? inv[inv.length - 1] : null);
      var next = i >= 0 ? inv[i + 1] : inv[0];
      add(nav, [
        el('a', { href: prev ? '#/v/' + prev.verification_id : '#', 'aria-disabled': prev ? null : 'true', 'data-nav-prev': '' }, '← previous invalid ', el('kbd', { text: 'p' })),
        el('span', { text: i >= 0 ? 'invalid card ' + (i + 1) + ' of ' + inv.length + ' in batch ' + str(batch.name || batch.id)
                                  : inv.length + ' invalid cards in batch ' + str(batch.name || batch.id) }),
        el('a', { href: next ? '#/v/' + next.verification_id : '#', 'aria-disabled': next ? null : 'true', 'data-nav-next': '' }, 'next invalid ', el('kbd', { text: 'n' }), ' →'),
        el('a', { href: '#/batch/' + encodeURIComponent(str(batch.id)) }, 'batch ', el('kbd', { text: 'b' }))
      ]);
    }).catch(function (e) { nav.textContent = 'batch ' + str(view.batch) + ': ' + e.message; });
    return nav;
  }
  function loadBatch(id) {
    var k = String(id);
    if (batchCache[k]) return Promise.resolve(batchCache[k]);
    return api('v1/qc/batches/' + encodeURIComponent(k)).then(function (b) { batchCache[k] = b; return b; });
  }
  function step(dir) {
    var b = current.batch;
    if (!b) { toast('n / p move between the invalid cards of a batch: open a batch first'); return; }
    var inv = invalidItems(b);
    if (!inv.length) { toast('no invalid card in this batch'); return; }
    var i = inv.findIndex(function (it) { return String(it.verification_id) === String(current.verificationId); });
    var j = i < 0 ? (dir > 0 ? 0 : inv.length - 1) : i + dir;
    if (j < 0 || j >= inv.length) { toast(dir > 0 ? 'this is the last invalid card of the batch' : 'this is the first invalid card of the batch'); return; }
    location.hash = '#/v/' + inv[j].verification_id;
  }

  // ------------------------------------------------------------------ routes
  function showVerification(id) {
    var gen = generation;
    current.verificationId = id;
    api('v1/verifications/' + encodeURIComponent(id) + '/view')
      .then(function (view) {
        if (view.batch === null || view.batch === undefined) current.batch = null;
        show(gen, verdictView(view), true);
      })
      .catch(function (e) { showError(gen, 'Verification ' + id, e); });
  }

  function countTiles(counts) {
    counts = obj(counts);
    var tiles = [
      ['total', 'cards', ''], ['pass', 'pass 合格', 'pass'], ['invalid', 'invalid 无效', 'invalid'],
      ['unavailable', 'unavailable 暂停服务', 'unavailable'],
      ['cause1', 'cause 1 · ' + CAUSES[1].en, 'cause-1'], ['cause2', 'cause 2 · ' + CAUSES[2].en, 'cause-2'],
      ['cause3', 'cause 3 · ' + CAUSES[3].en, 'cause-3'], ['cause4', 'cause 4 · ' + CAUSES[4].en, 'cause-4']
    ];
    return el('ul', { class: 'counts', 'aria-label': 'counts' }, tiles.map(function (t) {
      var n = typeof counts[t[0]] === 'number' ? counts[t[0]] : 0;
      return el('li', { class: t[2] || null, 'data-count': t[0] }, el('span', { class: 'n', text: String(n) }), el('span', { class: 'what', text: t[1] }));
    }));
  }
  function carriesText(it) {
    var cs = arr(it.carries);
    if (!cs.length) return '';
    return 'carries the data of ' + cs.map(function (c) {
      return 'record ' + str(c.record_id) + ' (' + str(c.by) + (typeof c.score === 'number' ? ' ' + fmtNum(c.score) : '') + ')';
    }).join(', ');
  }
  function itemsTable(items, label) {
    return el('table', { class: 'list', 'aria-label': label },
      el('thead', null, el('tr', null, ['#', 'scan', 'record', 'status', 'causes', 'whose data', 'verdict'].map(function (h) { return el('th', { scope: 'col', text: h }); }))),
      el('tbody', null, items.map(function (it, i) {
        var vid = it.verification_id;
        return el('tr', { 'data-scan': str(it.scan_id) },
          el('td', { class: 'num', text: String(i + 1) }),
          el('td', { text: str(it.scan_id) }), el('td', { text: str(it.record_id) }),
          el('td', null, el('span', { class: 'status-word ' + str(it.status), text: str(it.status) })),
          el('td', null, arr(it.causes).map(function (c) { return [causeBadge(c), ' ']; })),
          el('td', { text: carriesText(it) }),
          el('td', null, vid === null || vid === undefined ? '—' : el('a', { href: '#/v/' + vid, text: 'open ' + vid })));
      })));
  }
  function showBatch(id) {
    var gen = generation;
    delete batchCache[String(id)];
    loadBatch(id).then(function (b) {
      current.batch = b;
      current.verificationId = null;
      var items = arr(b.items);
      var inv = invalidItems(b);
      var allBox = el('div', { hidden: true });
      allBox.appendChild(itemsTable(items, 'all cards'));
      var toggle = el('button', { type: 'button', class: 'plain', 'aria-expanded': 'false', text: 'Show all cards (' + items.length + ')' });
      toggle.addEventListener('click', function () {
        var open = allBox.hidden;
        allBox.hidden = !open;
        toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
        toggle.textContent = (open ? 'Hide' : 'Show') + ' all cards (' + items.length + ')';
      });
      show(gen, el('article', { class: 'batch', 'data-batch': str(b.id) },
        el('h1', { text: 'Batch ' + str(b.name || b.id) }),
        el('dl', { class: 'meta' }, el('div', null, el('dt', { text: 'batch' }), el('dd', { text: str(b.id) })),
          el('div', null, el('dt', { text: 'created' }), el('dd', { text: str(b.created_at) }))),
        countTiles(b.counts),
        el('h2', { text: 'Invalid cards (' + inv.length + ')' }),
        inv.length ? [el('p', { class: 'muted' }, 'Press ', el('kbd', { text: 'n' }), ' to open the first one, then ', el('kbd', { text: 'n' }), ' / ', el('kbd', { text: 'p' }), ' to move.'),
          itemsTable(inv, 'invalid cards')] : el('p', { text: 'No invalid card in this batch.' }),
        el('h2', { text: 'All cards' }), toggle, allBox), true);
    }).catch(function (e) { showError(gen, 'Batch ' + id, e); });
  }
  function showBatches() {
    var gen = generation;
    api('v1/qc/batches').then(function (r) {
      var bs = arr(r && r.batches);
      show(gen, [el('h1', { text: 'QC batches' }),
        bs.length ? el('table', { class: 'list', 'aria-label': 'batches' },
          el('thead', null, el('tr', null, ['batch', 'name', 'created', 'cards', 'pass', 'invalid', 'unavailable', 'causes 1 / 2 / 3 / 4'].map(function (h) { return el('th', { scope: 'col', text: h }); }))),
          el('tbody', null, bs.map(function (b) {
            var c = obj(b.counts);
            return el('tr', null, el('td', null, el('a', { href: '#/batch/' + encodeURIComponent(str(b.id)), text: str(b.id) })),
              el('td', { text: str(b.name) }), el('td', { text: str(b.created_at) }),
              el('td', { class: 'num', text: str(c.total) }), el('td', { class: 'num', text: str(c.pass) }),
              el('td', { class: 'num', text: str(c.invalid) }), el('td', { class: 'num', text: str(c.unavailable) }),
              el('td', { class: 'num', text: [c.cause1, c.cause2, c.cause3, c.cause4].map(str).join(' / ') }));
          }))) : el('p', { text: 'No batch yet.' })], true);
    }).catch(function (e) { showError(gen, 'QC batches', e); });
  }
  function showRecent(status) {
    var gen = generation;
    var q = 'v1/verifications?limit=50' + (status ? '&status=' + encodeURIComponent(status) : '');
    api(q).then(function (r) {
      var vs = arr(r && r.verifications);
      var sel = el('select', { id: 'status-filter', 'aria-label': 'status' }, ['', 'invalid', 'pass', 'unavailable'].map(function (s) {
        return el('option', { value: s, selected: s === (status || '') ? true : null, text: s || 'all' });
      }));
      sel.addEventListener('change', function () { generation++; showRecent(sel.value); });
      show(gen, [el('h1', { text: 'Recent verifications' }), el('p', null, el('label', { for: 'status-filter', text: 'Status ' }), sel),
        vs.length ? el('table', { class: 'list', 'aria-label': 'recent verifications' },
          el('thead', null, el('tr', null, ['verification', 'finished', 'record', 'scan', 'reader', 'status', 'causes'].map(function (h) { return el('th', { scope: 'col', text: h }); }))),
          el('tbody', null, vs.map(function (x) {
            var v = obj(x.verdict);
            var st = x.status || v.status;
            return el('tr', null, el('td', null, el('a', { href: '#/v/' + x.id, text: str(x.id) })),
              el('td', { text: str(x.finished_at) }), el('td', { text: str(x.record_id) }), el('td', { text: str(x.scan_id) }),
              el('td', { text: str(x.reader) }), el('td', null, el('span', { class: 'status-word ' + str(st), text: str(st) })),
              el('td', null, arr(v.causes).map(function (c) { return [causeBadge(c), ' ']; })));
          }))) : el('p', { text: 'No verification yet.' })], status === undefined);
    }).catch(function (e) { showError(gen, 'Recent verifications', e); });
  }

  // ------------------------------------------------------------------ live view
  function showLive() {
    var gen = generation;
    var state = el('p', { class: 'live-state', 'data-live-state': 'connecting', role: 'status', 'aria-live': 'polite', text: 'Connecting to the station…' });
    var readers = el('ul', { class: 'readers', 'aria-label': 'readers' });
    var box = el('div', { class: 'live-verdict' });
    show(gen, [el('h1', { text: 'Live · station reader' }), state, readers, box], true);
    var rs = {};
    var lastShown = null;
    function setState(s, text, status) {
      state.setAttribute('data-live-state', s);
      if (status) state.setAttribute('data-status', status); else state.removeAttribute('data-status');
      state.textContent = text;
    }
    function drawReaders() {
      readers.textContent = '';
      Object.keys(rs).sort().forEach(function (n) {
        var r = rs[n];
        readers.appendChild(el('li', { 'data-reader': n }, el('strong', { text: n }), ': ', r.present ? 'card on the reader' : 'no card'));
      });
    }
    function showId(id, heading) {
      if (id === null || id === undefined) return Promise.resolve();
      lastShown = String(id);
      current.verificationId = lastShown;
      return api('v1/verifications/' + encodeURIComponent(id) + '/view').then(function (view) {
        if (gen !== generation || lastShown !== String(id)) return;
        box.textContent = '';
        var art = verdictView(view, heading);
        box.appendChild(art);
        box.setAttribute('data-shown', String(id));
      }).catch(function (e) { if (gen === generation) box.textContent = 'verification ' + id + ': ' + e.message; });
    }
    // the last stored verification, until a new one comes; data-initial="done" once it is shown
    api('v1/verifications?limit=1').then(function (r) {
      var last = arr(r && r.verifications)[0];
      if (last && lastShown === null) return showId(last.id, 'Last verification · ' + str(last.id));
    }).catch(function (e) { if (gen === generation) toast(e.message); })
      .then(function () { box.setAttribute('data-initial', 'done'); });

    var es = new EventSource('v1/events', { withCredentials: true });
    live = { es: es };
    function on(name, fn) {
      es.addEventListener(name, function (ev) {
        if (gen !== generation) return;
        var d = {};
        try { d = JSON.parse(ev.data); } catch (e) { d = {}; }
        fn(d);
      });
    }
    es.onopen = function () { if (state.getAttribute('data-live-state') === 'offline' || state.getAttribute('data-live-state') === 'connecting') setState('idle', 'Ready: waiting for a verification request'); };
    es.onerror = function () { if (gen === generation) setState('offline', 'Connection to the station lost: reconnecting…'); };
    on('hello', function (d) {
      rs = {};
      arr(d.readers).forEach(function (r) { rs[str(r.name)] = { present: !!(r.card && r.card.present) }; });
      drawReaders();
      if (d.maintenance && d.maintenance.on) setState('offline', 'Maintenance: ' + str(d.maintenance.reason));
      else if (d.unavailable) setState('offline', 'Unavailable: ' + str(d.unavailable));
      else setState('idle', 'Ready: waiting for a verification request');
    });
    on('reader_added', function (d) { rs[str(d.reader)] = { present: false }; drawReaders(); });
    on('reader_removed', function (d) { delete rs[str(d.reader)]; drawReaders(); });
    on('card_inserted', function (d) { rs[str(d.reader)] = { present: true }; drawReaders(); });
    on('card_removed', function (d) { rs[str(d.reader)] = { present: false }; drawReaders(); });
    on('verification_waiting', function (d) { setState('waiting', 'Place the card on the reader (record ' + str(d.record_id) + ')'); });
    on('verification_reading', function (d) { setState('reading', 'Reading the card… (' + str(d.reader) + ')'); });
    on('verification_finished', function (d) {
      var st = STATUS[d.status] || STATUS.unavailable;
      setState('finished', st.sym + ' ' + st.zh + ' ' + st.en + (arr(d.causes).length ? ' — cause ' + arr(d.causes).join(', ') : '') + ' · record ' + str(d.record_id),
        STATUS[d.status] ? d.status : 'unavailable');
      showId(d.id, 'Verification ' + str(d.id));
    });
    on('verification_ended', function (d) { setState('idle', 'No verdict for record ' + str(d.record_id) + ': ' + str(d.reason)); });
    on('service_down', function (d) { setState('offline', 'Card service down: ' + str(d.reason)); });
    on('service_up', function () { setState('idle', 'Ready: waiting for a verification request'); });
    on('maintenance_on', function (d) { setState('offline', 'Maintenance: ' + str(d.reason)); });
    on('maintenance_off', function () { setState('idle', 'Ready: waiting for a verification request'); });
    on('shutting_down', function () { setState('offline', 'The station is shutting down'); });
  }

  function stopLive() {
    if (live && live.es) live.es.close();
    live = null;
  }

  function route() {
    // in-page jumps to a marked cell are not routes
    if (/^#cell-/.test(location.hash)) return;
    generation++;
    stopLive();
    toast('');
    main.removeAttribute('data-ready');
    var h = location.hash || '#/live';
    var page = 'other';
    var m;
    if (h === '#/live' || h === '#/' || h === '#') { page = 'live'; showLive(); }
    else if ((m = /^#\/v\/(\d{1,18})$/.exec(h))) { page = 'v'; showVerification(m[1]); }
    else if ((m = /^#\/batch\/([A-Za-z0-9_.:%-]{1,300})$/.exec(h))) { page = 'batches'; showBatch(decodeURIComponent(m[1])); }
    else if (h === '#/batches') { page = 'batches'; showBatches(); }
    else if (h === '#/recent') { page = 'recent'; showRecent(); }
    else { showError(generation, 'Unknown page', new Error('no page ' + h + ': try #/live, #/batches or #/recent')); }
    document.querySelectorAll('[data-nav]').forEach(function (a) {
      if (a.getAttribute('data-nav') === page) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    });
  }

  function toggleHelp() {
    var h = document.getElementById('help');
    var b = document.getElementById('help-button');
    h.hidden = !h.hidden;
    b.setAttribute('aria-expanded', h.hidden ? 'false' : 'true');
  }

  function onKey(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var t = ev.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    switch (ev.key) {
      case 'n': step(1); break;
      case 'p': step(-1); break;
      case 'b':
        if (current.batch) location.hash = '#/batch/' + encodeURIComponent(str(current.batch.id));
        else toast('this verdict is not part of a batch');
        break;
      case 'l': location.hash = '#/live'; break;
      case 'r': location.hash = '#/recent'; break;
      case 'f': {
        var a = main.querySelector('.findings a.goto') || main.querySelector('.findings li');
        if (a) a.focus(); else toast('no finding on this page');
        break;
      }
      case '?': toggleHelp(); break;
      case 'Escape': { var h = document.getElementById('help'); if (!h.hidden) toggleHelp(); break; }
      default: return;
    }
    ev.preventDefault();
  }

  function start() {
    main = document.getElementById('main');
    document.getElementById('help-button').addEventListener('click', toggleHelp);
    document.addEventListener('keydown', onKey);
    window.addEventListener('hashchange', route);
    route();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start); else start();
})();
