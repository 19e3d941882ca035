// Refund Desk staff console: login, the queue (refreshed every few seconds), a conversation with its
// transcript, claim, assessment and evidence, the staff actions, and the tickets. Customer text and
// knowledge answers are always inserted as text (textContent), never as HTML.
(function () {
  'use strict';
  var csrf = sessionStorage.getItem('rd-csrf') || '';
  var me = '';
  var selected = null;      // conversation id
  // The transcript comes in pages (the newest with every refresh, older ones on scroll): what is loaded
  // of the selected conversation, by seq, and where the next older page starts (null: at the first).
  var loaded = { id: null, bySeq: {}, max: 0, older: null, busy: false, view: null };
  var queueItems = [];      // ids in queue order
  var REFRESH_MS = 3000;
  var timer = null;

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }

  function api(method, path, body) {
    var headers = {};
    if (method !== 'GET') { headers['Content-Type'] = 'application/json'; headers['X-CSRF-Token'] = csrf; }
    return fetch(path, { method: method, headers: headers, credentials: 'same-origin',
                         body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (r) {
        return r.json().then(function (j) {
          if (r.status === 401) { showLogin(); throw new Error(j.message); }
          if (!r.ok) throw new Error(j.message || ('HTTP ' + r.status));
          return j;
        });
      });
  }

  function showError(text) { $('app-error').textContent = text || ''; }

  function showLogin() {
    clearInterval(timer);
    $('app').hidden = true;
    $('login-view').hidden = false;
    $('login-name').focus();
  }

  function showApp() {
    $('login-view').hidden = true;
    $('app').hidden = false;
    $('me').textContent = me;
    refresh();
    clearInterval(timer);
    timer = setInterval(refresh, REFRESH_MS);
  }

  $('login-form').addEventListener('submit', function (e) {
    e.preventDefault();
    $('login-error').textContent = '';
    fetch('/api/staff/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, credentials: 'same-origin',
                                body: JSON.stringify({ name: $('login-name').value, password: $('login-password').value }) })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j.message); return j; }); })
      .then(function (j) {
        csrf = j.csrf_token;
        sessionStorage.setItem('rd-csrf', csrf);
        me = j.name;
        $('login-password').value = '';
        showApp();
      })
      .catch(function (err) { $('login-error').textContent = err.message; });
  });

  $('logout').addEventListener('click', function () {
    api('POST', '/api/staff/logout').catch(function () {}).then(function () {
      sessionStorage.removeItem('rd-csrf');
      csrf = '';
      showLogin();
    });
  });

  // --- queue ---------------------------------------------------------------------------------------
  function refresh() {
    if (!$('queue-view').hidden) {
      loadQueue();
      if (selected) loadConversation(selected, true);
    } else {
      loadTickets();
    }
  }

  function loadQueue() {
    api('GET', '/api/staff/conversations?state=' + encodeURIComponent($('queue-filter').value)).then(function (j) {
      var ul = $('queue');
      ul.textContent = '';
      queueItems = [];
      j.conversations.forEach(function (c) {
        queueItems.push(c.id);
        var li = el('li', { role: 'option', tabindex: '0', 'data-id': c.id, 'data-testid': 'console-conversation',
                            'aria-selected': String(c.id === selected) });
        if (c.needs_human) li.className = 'needs';
        li.appendChild(el('span', null, c.id));
        var badge = el('span', { class: 'badge', 'data-testid': 'console-unread' }, c.unread > 0 ? String(c.unread) : '');
        if (!c.unread) badge.hidden = true;
        li.appendChild(badge);
        var who = c.needs_human ? 'needs a human' : (c.assignee ? 'with ' + c.assignee : 'bot');
        li.appendChild(el('span', { class: 'state' }, c.state + ' · ' + who + ' · ' + c.channel));
        li.addEventListener('click', function () { select(c.id); });
        li.addEventListener('keydown', function (e) { if (e.key === 'Enter') select(c.id); });
        ul.appendChild(li);
      });
    }).catch(function (e) { showError(e.message); });
  }

  function select(id) {
    selected = id;
    Array.prototype.forEach.call(document.querySelectorAll('#queue li'), function (li) {
      li.setAttribute('aria-selected', String(li.getAttribute('data-id') === id));
    });
    loadConversation(id, false);
  }

  // --- one conversation ------------------------------------------------------------------------------
  function field(dl, name, value) {
    dl.appendChild(el('dt', null, name));
    dl.appendChild(el('dd', null, value == null || value === '' ? '—' : String(value)));
  }

  function loadConversation(id, quiet) {
    api('GET', '/api/staff/conversations/' + encodeURIComponent(id)).then(function (c) {
      var draft = $('reply-text') ? $('reply-text').value : '';
      var hadFocus = document.activeElement && document.activeElement.id === 'reply-text';
      if (quiet && $('conversation').getAttribute('data-seq') === String(c.last_seq) &&
          $('conversation').getAttribute('data-state') === c.state + '/' + c.assignee) return;
      renderConversation(c);
      if ($('reply-text')) {
        $('reply-text').value = draft;
        if (hadFocus) $('reply-text').focus();
      }
      if (!quiet) loadQueue();
    }).catch(function (e) { showError(e.message); });
  }

  function act(action, body) {
    showError('');
    return api('POST', '/api/staff/conversations/' + encodeURIComponent(selected) + '/' + action, body || {})
      .then(function (j) { renderConversation(j.conversation); loadQueue(); return j; })
      .catch(function (e) { showError(e.message); });
  }

  // Adds the newest page to what is loaded; a page that does not join it (more new messages than a page
  // since the last refresh) starts over from that page.
  function mergeNewest(c) {
    var first = c.transcript.length ? c.transcript[0].seq : 0;
    if (loaded.id !== c.id || (loaded.max && first > loaded.max + 1)) {
      loaded = { id: c.id, bySeq: {}, max: 0, older: c.older_before, busy: false, view: null };
    }
    c.transcript.forEach(function (m) { loaded.bySeq[m.seq] = m; loaded.max = Math.max(loaded.max, m.seq); });
    loaded.view = c;
  }

  function loadedLines() {
    return Object.keys(loaded.bySeq).map(Number).sort(function (a, b) { return a - b; })
      .map(function (seq) { return loaded.bySeq[seq]; });
  }

  // The page before the oldest one loaded, kept in view where the reader was.
  function loadOlder() {
    if (loaded.busy || loaded.older == null || !loaded.view) return;
    loaded.busy = true;
    var id = loaded.id;
    api('GET', '/api/staff/conversations/' + encodeURIComponent(id) + '?before=' + loaded.older).then(function (page) {
      loaded.busy = false;
      if (loaded.id !== id) return;
      page.transcript.forEach(function (m) { loaded.bySeq[m.seq] = m; });
      loaded.older = page.older_before;
      var t = document.querySelector('[data-testid="console-transcript"]');
      var fromBottom = t ? t.scrollHeight - t.scrollTop : 0;
      renderConversation(loaded.view, true);
      t = document.querySelector('[data-testid="console-transcript"]');
      if (t) t.scrollTop = t.scrollHeight - fromBottom;
    }).catch(function (e) { loaded.busy = false; showError(e.message); });
  }

  function renderConversation(c, keepLoaded) {
    if (!keepLoaded) mergeNewest(c);
    var box = $('conversation');
    box.textContent = '';
    box.setAttribute('data-seq', String(c.last_seq));
    box.setAttribute('data-state', c.state + '/' + c.assignee);
    var main = el('div');
    main.appendChild(el('h2', null, c.id + ' — ' + c.state + (c.assignee ? ' (with ' + c.assignee + ')' : '')));
    var mine = c.assignee === me;
    var actions = el('div', { class: 'actions', role: 'toolbar', 'aria-label': 'Actions' });
    function button(label, testid, enabled, handler, primary) {
      var b = el('button', { type: 'button', 'data-testid': testid }, label);
      if (primary) b.className = 'primary';
      b.disabled = !enabled;
      b.addEventListener('click', handler);
      actions.appendChild(b);
    }
    button('Take over', 'console-takeover', !c.assignee, function () { act('takeover'); }, !c.assignee);
    button('Hand back', 'console-handback', mine, function () { act('handback'); });
    button('Transfer…', 'console-transfer', mine, function () {
      var to = prompt('Transfer to (staff name):');
      if (to) act('transfer', { to: to });
    });
    button('File ticket', 'console-file', mine, function () { act('file'); });
    button('Close', 'console-close', mine, function () { if (confirm('Close without a ticket?')) act('close'); });
    main.appendChild(actions);

    var transcript = el('div', { class: 'transcript', role: 'log', 'aria-label': 'Transcript', 'data-testid': 'console-transcript' });
    if (loaded.older != null) {
      var more = el('button', { type: 'button', class: 'older', 'data-testid': 'console-older' }, 'Earlier messages…');
      more.addEventListener('click', loadOlder);
      transcript.appendChild(more);
    }
    transcript.addEventListener('scroll', function () { if (transcript.scrollTop < 40) loadOlder(); });
    loadedLines().forEach(function (m) {
      var line = el('div', { class: 'line', 'data-author': m.author, 'data-testid': 'console-line' });
      line.appendChild(el('span', { class: 'meta' }, m.author + ' · ' + m.at));
      line.appendChild(document.createTextNode(m.text));
      transcript.appendChild(line);
    });
    main.appendChild(transcript);

    var reply = el('form', { class: 'reply' });
    var text = el('textarea', { id: 'reply-text', 'aria-label': 'Reply to the customer', 'data-testid': 'console-reply-text',
                                placeholder: mine ? 'Reply (Ctrl+Enter sends)' : 'Take the conversation over to reply' });
    text.disabled = !mine;
    var send = el('button', { type: 'submit', class: 'primary', 'data-testid': 'console-reply-send' }, 'Send reply');
    send.disabled = !mine;
    reply.appendChild(text);
    reply.appendChild(send);
    reply.addEventListener('submit', function (e) {
      e.preventDefault();
      var t = text.value.trim();
      if (!t) return;
      act('reply', { text: t }).then(function () { if ($('reply-text')) $('reply-text').value = ''; });
    });
    text.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); reply.requestSubmit(); }
    });
    main.appendChild(reply);

    var slotForm = el('form', { class: 'reply', 'aria-label': 'Set a claim field' });
    var slot = el('select', { 'aria-label': 'Field', 'data-testid': 'console-slot' });
    ['payment_date', 'activation_date', 'problems', 'evidence', 'contact', 'billing'].forEach(function (s) {
      slot.appendChild(el('option', null, s));
    });
    var value = el('input', { 'aria-label': 'Value (a date, or JSON)', placeholder: 'YYYY-MM-DD or JSON', 'data-testid': 'console-slot-value' });
    var set = el('button', { type: 'submit', 'data-testid': 'console-slot-set' }, 'Set field');
    set.disabled = value.disabled = slot.disabled = !mine;
    slotForm.appendChild(slot);
    slotForm.appendChild(value);
    slotForm.appendChild(set);
    slotForm.addEventListener('submit', function (e) {
      e.preventDefault();
      var v = value.value.trim();
      var parsed = v;
      if (/^[\[{"]/.test(v)) { try { parsed = JSON.parse(v); } catch (err) { showError('not valid JSON'); return; } }
      act('slots', { slot: slot.value, value: parsed });
    });
    main.appendChild(slotForm);
    box.appendChild(main);

    var side = el('aside', { class: 'side', 'aria-label': 'Claim' });
    side.appendChild(el('h3', null, 'Summary'));
    side.appendChild(el('p', { class: 'summary', 'data-testid': 'console-summary' }, c.summary));
    side.appendChild(el('h3', null, 'Claim'));
    var dl = el('dl');
    field(dl, 'Paid', c.claim.payment_date);
    field(dl, 'Activated', c.claim.activation_date);
    (c.claim.problems || []).forEach(function (p) {
      var figures = Object.keys(p.metrics || {}).map(function (k) { return k + ' ' + p.metrics[k]; }).join(', ');
      field(dl, 'Problem', p.category + (figures ? ' (' + figures + ')' : ''));
    });
    // Every way to reach the customer, with its kind: email, phone, wechat, order, account, ...
    field(dl, 'Contact', c.claim.contact && Object.keys(c.claim.contact).map(function (k) { return k + ' ' + c.claim.contact[k]; }).join(', '));
    if (c.claim.billing_model || c.claim.amount_paid) field(dl, 'Billing', (c.claim.billing_model || '') + ' ' + (c.claim.amount_paid || ''));
    side.appendChild(dl);
    side.appendChild(el('h3', null, 'Evidence'));
    var ev = el('ul');
    (c.claim.evidence || []).forEach(function (e) {
      var li = el('li', null, e.type + ': ');
      if (e.attachment && e.attachment.sha256) {
        var a = el('a', { href: '/api/staff/conversations/' + encodeURIComponent(c.id) + '/files/' + e.attachment.sha256,
                          'data-testid': 'console-evidence-link' }, e.attachment.name);
        li.appendChild(a);
      } else {
        li.appendChild(document.createTextNode(e.description || ''));
      }
      ev.appendChild(li);
    });
    side.appendChild(ev);
    side.appendChild(el('h3', null, 'Assessment'));
    var a = c.assessment || {};
    side.appendChild(el('p', { class: 'verdict', 'data-testid': 'console-verdict' }, a.verdict || ''));
    var adl = el('dl');
    field(adl, 'Window', (a.window_start || '?') + ' → ' + (a.window_end || '?') + ' (' + (a.window_start_basis || '') + ')');
    field(adl, 'Grounds', (a.grounds || []).map(function (g) { return g.metric || g.category; }).join(', '));
    field(adl, 'Missing', (a.evidence_missing || []).join(', '));
    if (a.estimate && a.estimate.formula) field(adl, 'Estimate', a.estimate.formula);
    side.appendChild(adl);
    if (c.tickets && c.tickets.length) {
      side.appendChild(el('h3', null, 'Tickets'));
      c.tickets.forEach(function (t) { side.appendChild(el('p', null, t.id + ' · ' + t.status)); });
    }
    box.appendChild(side);
  }

  // --- tickets ---------------------------------------------------------------------------------------
  var NEXT = { open: ['in_review'], in_review: ['approved', 'rejected'], approved: ['refunded'] };
  function loadTickets() {
    var status = $('ticket-filter').value;
    api('GET', '/api/staff/tickets' + (status ? '?status=' + encodeURIComponent(status) : '')).then(function (j) {
      var body = $('tickets');
      body.textContent = '';
      j.tickets.forEach(function (t) {
        var tr = el('tr', { 'data-testid': 'console-ticket', 'data-id': t.id });
        tr.appendChild(el('td', null, t.id));
        tr.appendChild(el('td', { 'data-testid': 'console-ticket-status' }, t.status));
        tr.appendChild(el('td', null, t.created_at));
        tr.appendChild(el('td', null, t.assessment && t.assessment.verdict));
        tr.appendChild(el('td', null, t.assessment && t.assessment.estimate && t.assessment.estimate.formula || '—'));
        var td = el('td');
        (NEXT[t.status] || []).forEach(function (s) {
          var b = el('button', { type: 'button', 'data-testid': 'console-status-' + s }, s);
          b.addEventListener('click', function () {
            api('POST', '/api/staff/tickets/' + encodeURIComponent(t.id) + '/status', { status: s })
              .then(loadTickets).catch(function (e) { showError(e.message); });
          });
          td.appendChild(b);
        });
        tr.appendChild(td);
        body.appendChild(tr);
      });
    }).catch(function (e) { showError(e.message); });
  }

  function tab(which) {
    $('queue-view').hidden = which !== 'queue';
    $('tickets-view').hidden = which !== 'tickets';
    $('tab-queue').setAttribute('aria-pressed', String(which === 'queue'));
    $('tab-tickets').setAttribute('aria-pressed', String(which === 'tickets'));
    refresh();
  }
  $('tab-queue').addEventListener('click', function () { tab('queue'); });
  $('tab-tickets').addEventListener('click', function () { tab('tickets'); });
  $('queue-filter').addEventListener('change', loadQueue);
  $('ticket-filter').addEventListener('change', loadTickets);

  // --- keyboard --------------------------------------------------------------------------------------
  document.addEventListener('keydown', function (e) {
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement && document.activeElement.tagName);
    if (e.altKey && e.key === 't' && selected) { e.preventDefault(); act('takeover'); return; }
    if (e.altKey && e.key === 'b' && selected) { e.preventDefault(); act('handback'); return; }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'r' && $('reply-text')) { e.preventDefault(); $('reply-text').focus(); }
    if (e.key === 'j' || e.key === 'k') {
      var i = queueItems.indexOf(selected) + (e.key === 'j' ? 1 : -1);
      if (i >= 0 && i < queueItems.length) select(queueItems[i]);
    }
  });

  // Start: a live session goes straight to the queue.
  fetch('/api/staff/me', { credentials: 'same-origin' }).then(function (r) {
    if (!r.ok || !csrf) return showLogin();
    return r.json().then(function (j) { me = j.name; showApp(); });
  }).catch(showLogin);
})();
