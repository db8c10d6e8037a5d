(function () {
  'use strict';
  // Every string below comes from the tenant: it reaches the page only through textContent,
  // value and setAttribute on non-script attributes, never as markup.
  var data = JSON.parse(document.getElementById('data').textContent);
  var rows = data.rows;
  var RULE = 0, SEV = 1, STATUS = 2, SUB = 3, NAME = 4, ID = 5, TYPE = 6, GROUP = 7, MSG = 8, DETAILS = 9;
  var STATUS_LABEL = { fail: 'fail', unknown: 'unknown', exempt: 'exempt', pass: 'pass', not_applicable: 'not applicable' };
  var INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

  // Control and bidirectional formatting characters are shown, not obeyed.
  function visible(text) {
    return String(text === null || text === undefined ? '' : text).replace(INVISIBLE, function (c) {
      var hex = c.charCodeAt(0).toString(16).toUpperCase();
      while (hex.length < 4) hex = '0' + hex;
      return '\u27e8U+' + hex + '\u27e9';
    });
  }
  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = visible(text);
    return e;
  }
  function add(parent, child) { parent.appendChild(child); return child; }
  function byId(id) { return document.getElementById(id); }
  function webLink(url, text) {
    if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) return el('span', null, text || url);
    var a = el('a', null, text || url);
    a.setAttribute('href', url);
    a.setAttribute('rel', 'noopener noreferrer');
    a.setAttribute('target', '_blank');
    return a;
  }

  var state = { rule: '', severity: '', status: '', subscription: '', text: '', key: 'status', dir: 1, page: 0, size: 100 };
  var sorted = null;
  var matches = [];
  var haystacks = null;
  var open = {};

  function fillSelect(select, values, label) {
    values.forEach(function (v, i) {
      var o = el('option', null, label ? label(v, i) : v);
      o.value = String(i);
      select.appendChild(o);
    });
  }
  fillSelect(byId('f-rule'), data.rules, function (r) { return r.id + ' ' + r.title; });
  fillSelect(byId('f-severity'), data.severities);
  fillSelect(byId('f-status'), data.statuses, function (s) { return STATUS_LABEL[s] || s; });
  fillSelect(byId('f-subscription'), data.subscriptions);
  byId('row-count').textContent = String(rows.length);

  function subscriptionOf(row) { return row[SUB] < 0 ? '' : data.subscriptions[row[SUB]]; }
  function compareText(a, b) { return a < b ? -1 : a > b ? 1 : 0; }
  var comparators = {
    status: function (a, b) { return a[STATUS] - b[STATUS] || a[SEV] - b[SEV] || compareText(data.rules[a[RULE]].id, data.rules[b[RULE]].id) || compareText(a[NAME], b[NAME]); },
    severity: function (a, b) { return a[SEV] - b[SEV] || a[STATUS] - b[STATUS] || compareText(a[NAME], b[NAME]); },
    rule: function (a, b) { return compareText(data.rules[a[RULE]].id, data.rules[b[RULE]].id) || a[STATUS] - b[STATUS] || compareText(a[NAME], b[NAME]); },
    resource: function (a, b) { return compareText(a[NAME].toLowerCase(), b[NAME].toLowerCase()) || compareText(a[ID], b[ID]); },
    subscription: function (a, b) { return compareText(subscriptionOf(a), subscriptionOf(b)) || a[STATUS] - b[STATUS]; },
    message: function (a, b) { return compareText(a[MSG], b[MSG]); }
  };

  function sort() {
    var compare = comparators[state.key];
    var dir = state.dir;
    sorted = rows.map(function (_, i) { return i; });
    sorted.sort(function (i, j) { return dir * compare(rows[i], rows[j]) || i - j; });
    document.querySelectorAll('#results thead th').forEach(function (th) {
      var button = th.querySelector('.sort');
      if (button && button.getAttribute('data-key') === state.key) th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    });
  }

  function haystack(i) {
    var r = rows[i];
    var rule = data.rules[r[RULE]];
    return [rule.id, rule.title, r[NAME], r[ID], r[TYPE], r[GROUP], r[MSG], subscriptionOf(r), data.statuses[r[STATUS]], data.severities[r[SEV]]].join('\n').toLowerCase();
  }

  function filter() {
    var rule = state.rule === '' ? -1 : Number(state.rule);
    var sev = state.severity === '' ? -1 : Number(state.severity);
    var status = state.status === '' ? -1 : Number(state.status);
    var sub = state.subscription === '' ? -2 : Number(state.subscription);
    var words = state.text.toLowerCase().split(/\s+/).filter(Boolean);
    if (words.length && !haystacks) haystacks = rows.map(function (_, i) { return haystack(i); });
    matches = [];
    for (var k = 0; k < sorted.length; k++) {
      var i = sorted[k], r = rows[i];
      if (rule >= 0 && r[RULE] !== rule) continue;
      if (sev >= 0 && r[SEV] !== sev) continue;
      if (status >= 0 && r[STATUS] !== status) continue;
      if (sub > -2 && r[SUB] !== sub) continue;
      if (words.length) {
        var h = haystacks[i], all = true;
        for (var w = 0; w < words.length; w++) if (h.indexOf(words[w]) < 0) { all = false; break; }
        if (!all) continue;
      }
      matches.push(i);
    }
    byId('match-count').textContent = String(matches.length);
  }

  function pages() { return Math.max(1, Math.ceil(matches.length / state.size)); }

  function render() {
    var tbody = byId('rows');
    tbody.textContent = '';
    state.page = Math.min(state.page, pages() - 1);
    var start = state.page * state.size;
    var end = Math.min(matches.length, start + state.size);
    for (var k = start; k < end; k++) {
      var i = matches[k];
      tbody.appendChild(resultRow(i));
      if (open[i]) tbody.appendChild(detailsRow(i));
    }
    byId('page-info').textContent = matches.length ? 'Showing ' + (start + 1) + ' to ' + end + '.' : '';
    byId('p-where').textContent = 'Page ' + (state.page + 1) + ' of ' + pages();
    byId('p-first').disabled = byId('p-prev').disabled = state.page === 0;
    byId('p-next').disabled = byId('p-last').disabled = state.page >= pages() - 1;
  }

  function resultRow(i) {
    var r = rows[i];
    var rule = data.rules[r[RULE]];
    var status = data.statuses[r[STATUS]];
    var sev = data.severities[r[SEV]];
    var tr = el('tr', 'result');
    tr.setAttribute('data-index', String(i));
    tr.setAttribute('data-rule', rule.id);
    tr.setAttribute('data-status', status);
    var toggle = add(add(tr, el('td')), el('button', 'toggle', open[i] ? '\u2212' : '+'));
    toggle.type = 'button';
    toggle.setAttribute('aria-expanded', open[i] ? 'true' : 'false');
    toggle.setAttribute('aria-controls', 'details-' + i);
    toggle.setAttribute('aria-label', 'Details of ' + visible(rule.id + ' ' + r[NAME]));
    toggle.addEventListener('click', function () {
      if (open[i]) delete open[i]; else open[i] = true;
      render();
    });
    add(add(tr, el('td')), el('span', 'badge ' + status, STATUS_LABEL[status] || status));
    add(add(tr, el('td')), el('span', 'sev ' + sev, sev));
    var ruleCell = add(tr, el('td', null, rule.id));
    ruleCell.title = visible(rule.title);
    var res = add(tr, el('td'));
    add(res, el('div', null, r[NAME]));
    add(res, el('div', 'sub', r[TYPE]));
    add(tr, el('td', 'sub', subscriptionOf(r)));
    var msg = add(add(tr, el('td')), el('div', 'msg', r[MSG]));
    msg.title = visible(r[MSG]);
    return tr;
  }

  function kvList(value) {
    if (value === null || typeof value !== 'object') return el('span', null, JSON.stringify(value) === undefined ? '' : (typeof value === 'string' ? value : JSON.stringify(value)));
    var ul = el('ul', 'kv');
    var keys = Array.isArray(value) ? value.map(function (_, i) { return i; }) : Object.keys(value);
    keys.forEach(function (k) {
      var li = add(ul, el('li'));
      if (!Array.isArray(value)) add(li, el('strong', null, k + ': '));
      var v = value[k];
      if (v !== null && typeof v === 'object') li.appendChild(isDecision(v) ? decision(v) : kvList(v));
      else add(li, el('span', null, typeof v === 'string' ? v : JSON.stringify(v)));
    });
    return ul;
  }

  function isDecision(v) {
    return v && typeof v === 'object' && typeof v.decision === 'string' && typeof v.action === 'string' && Array.isArray(v.evidence);
  }

  // One question the permission engine answered: who, what, where, the answer, and every
  // candidate assignment with why it did or did not count.
  function decision(d) {
    var box = el('div', 'decision');
    var head = add(box, el('p'));
    add(head, el('span', d.decision === 'granted' ? 'granted' : d.decision === 'denied' ? 'denied' : 'undecided', d.decision));
    add(head, el('span', null, ': principal '));
    add(head, el('code', null, d.principal));
    add(head, el('span', null, (d.data_action ? ', data action ' : ', action ')));
    add(head, el('code', null, d.action));
    add(head, el('span', null, ' on '));
    add(head, el('code', null, d.scope));
    if (Array.isArray(d.reasons) && d.reasons.length) {
      var reasons = add(box, el('ul', 'kv'));
      d.reasons.forEach(function (reason) { add(reasons, el('li', null, reason)); });
    }
    if (d.evidence.length) {
      var table = add(box, el('table'));
      var head2 = add(add(table, el('thead')), el('tr'));
      ['Role', 'Scope', 'Counts?', 'Why', 'Assignment'].forEach(function (h) { add(head2, el('th', null, h)); });
      var body = add(table, el('tbody'));
      d.evidence.forEach(function (e) {
        var tr = add(body, el('tr'));
        add(tr, el('td', null, e.role_name || e.role_definition_id));
        add(add(tr, el('td')), el('code', null, e.scope));
        add(tr, el('td', String(e.contribution || ''), String(e.contribution || '').replace(/_/g, ' ')));
        add(tr, el('td', null, e.detail));
        add(add(tr, el('td')), el('code', null, e.assignment_id));
      });
    } else {
      add(box, el('p', 'sub', 'No role assignment of this principal applies at this scope.'));
    }
    if (typeof d.omitted_candidates === 'number') {
      add(box, el('p', 'sub', d.omitted_candidates + ' other candidate assignment(s) did not count; findings.json lists them.'));
    }
    return box;
  }

  var VERIFIED = {
    closes: ['ok', 'Fix proven: applying these steps closes this finding'],
    partial: ['warn', 'Fix proven partial: these steps change the finding but do not close it'],
    does_not_close: ['bad', 'Fix checked: these steps do not close this finding'],
    not_verified: ['warn', 'Fix not verified']
  };

  function fixSteps(parent, steps, fix) {
    add(parent, el('h3', null, 'Fix'));
    var proof = fix && VERIFIED[fix.verified];
    var p = add(parent, el('p'));
    add(p, el('span', 'tag ' + (proof ? proof[0] : 'warn'), proof ? proof[1] : 'Fix not verified (no proof in this report)'));
    if (fix && fix.detail) add(p, el('span', null, fix.detail));
    steps.forEach(function (step, n) {
      var box = add(parent, el('div', 'step'));
      var title = add(box, el('p'));
      add(title, el('strong', null, 'Step ' + (n + 1) + ': '));
      add(title, el('span', null, step.description));
      var tags = add(box, el('p'));
      add(tags, el('span', 'tag ' + (step.automatic ? 'ok' : 'warn'), step.automatic ? 'automatic' : 'manual'));
      if (!step.automatic && typeof step.manual_reason === 'string') add(tags, el('span', 'why', step.manual_reason));
      if (step.edit && typeof step.edit.kind === 'string') add(tags, el('span', 'tag', step.edit.kind.replace(/_/g, ' ')));
      if (step.edit && typeof step.edit.text === 'string') add(box, el('p', null, step.edit.text));
      var command = typeof step.command === 'string' && step.command ? step.command : (Array.isArray(step.argv) ? step.argv.join(' ') : '');
      if (command) {
        add(box, el('pre', null, command));
        var button = add(box, el('button', 'copy', 'Copy command'));
        button.type = 'button';
        button.addEventListener('click', function () { copy(command, button); });
      }
    });
  }

  function copy(text, button) {
    function done(ok) {
      button.textContent = ok ? 'Copied' : 'Copy failed: select the text';
      setTimeout(function () { button.textContent = 'Copy command'; }, 1500);
    }
    function fallback() {
      var area = el('textarea', 'sr');
      area.value = text;
      area.setAttribute('readonly', '');
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
      document.body.removeChild(area);
      return ok;
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallback()); });
    } else {
      done(fallback());
    }
  }

  function detailsRow(i) {
    var r = rows[i];
    var det = r[DETAILS] || {};
    var rule = data.rules[r[RULE]];
    var tr = el('tr', 'details');
    tr.id = 'details-' + i;
    var td = add(tr, el('td'));
    td.colSpan = 7;
    var box = add(td, el('div', 'details'));
    add(box, el('p', null, r[MSG]));
    var facts = add(box, el('p', 'sub'));
    add(facts, el('code', null, r[ID]));
    if (r[GROUP]) add(facts, el('span', null, ' (resource group ' + r[GROUP] + ')'));
    var ruleLine = add(box, el('p'));
    add(ruleLine, el('strong', null, rule.id + ': '));
    add(ruleLine, el('span', null, rule.title));
    (rule.references || []).forEach(function (url) {
      add(ruleLine, el('span', null, ' \u00b7 '));
      add(ruleLine, webLink(url, 'docs'));
    });
    if (det.exemption) {
      add(box, el('h3', null, 'Exemption'));
      add(box, kvList(det.exemption));
    }
    if (det.baseline) {
      var b = add(box, el('p'));
      add(b, el('span', 'tag ' + (det.baseline === 'new' ? 'bad' : 'warn'), det.baseline === 'new' ? 'new since the baseline' : 'in the baseline'));
    }
    if (Array.isArray(det.evidence) && det.evidence.length) {
      add(box, el('h3', null, 'Evidence'));
      det.evidence.forEach(function (e) { box.appendChild(isDecision(e) ? decision(e) : kvList(e)); });
    }
    if (Array.isArray(det.remediation) && det.remediation.length) fixSteps(box, det.remediation, det.fix);
    return tr;
  }

  function refresh(resort) {
    if (resort || !sorted) sort();
    filter();
    render();
  }

  ['rule', 'severity', 'status', 'subscription'].forEach(function (name) {
    byId('f-' + name).addEventListener('change', function (e) {
      state[name] = e.target.value;
      state.page = 0;
      refresh(false);
    });
  });
  var typing = null;
  byId('f-text').addEventListener('input', function (e) {
    clearTimeout(typing);
    typing = setTimeout(function () {
      state.text = e.target.value;
      state.page = 0;
      refresh(false);
    }, 150);
  });
  byId('filters').addEventListener('submit', function (e) { e.preventDefault(); });
  byId('filters').addEventListener('reset', function () {
    setTimeout(function () {
      state.rule = state.severity = state.status = state.subscription = state.text = '';
      state.page = 0;
      refresh(false);
    }, 0);
  });
  document.querySelectorAll('#results .sort').forEach(function (button) {
    button.addEventListener('click', function () {
      var key = button.getAttribute('data-key');
      state.dir = state.key === key ? -state.dir : 1;
      state.key = key;
      refresh(true);
    });
  });
  function go(page) { state.page = Math.max(0, Math.min(pages() - 1, page)); render(); }
  byId('p-first').addEventListener('click', function () { go(0); });
  byId('p-prev').addEventListener('click', function () { go(state.page - 1); });
  byId('p-next').addEventListener('click', function () { go(state.page + 1); });
  byId('p-last').addEventListener('click', function () { go(pages() - 1); });
  byId('p-size').addEventListener('change', function (e) { state.size = Number(e.target.value) || 100; state.page = 0; render(); });

  refresh(true);
  document.documentElement.setAttribute('data-ready', 'true');
})();
