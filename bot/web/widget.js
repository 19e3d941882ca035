// Refund Desk chat widget. A site adds one tag:
//   <script src="https://HOST/widget.js" data-lang="zh" async></script>
// and gets a launcher button and a chat panel talking to HOST's /api/chat. No framework; everything the
// customer, the bot or staff wrote is inserted as text (textContent), never as HTML.
(function () {
  'use strict';
  if (window.__refundDeskWidget) return;
  window.__refundDeskWidget = true;

  var script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  var base = new URL(script.src, location.href).origin;
  var lang = (script.getAttribute('data-lang') || document.documentElement.lang || 'zh').slice(0, 2) === 'en' ? 'en' : 'zh';
  var storeKey = 'rd-session:' + base;
  var DATE_SLOTS = { payment_date: true, activation_date: true };
  var POLL_MS = 3000;

  var session = localStorage.getItem(storeKey) || '';
  var lastSeq = 0;
  var labels = {};
  var open = false;
  var busy = false;
  var pollTimer = null;

  // --- elements (in a shadow root, so the host page's CSS neither breaks nor is broken by ours) ---
  var host = document.createElement('div');
  host.id = 'refund-desk-widget';
  document.body.appendChild(host);
  var root = host.attachShadow({ mode: 'open' });
  var style = document.createElement('style');
  style.textContent = [
    ':host{all:initial}',
    '*{box-sizing:border-box;font-family:system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif}',
    '.launcher{position:fixed;right:16px;bottom:16px;z-index:2147483000;border:0;border-radius:28px;padding:14px 20px;',
    ' background:#1f5eff;color:#fff;font-size:16px;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)}',
    '.launcher:focus-visible,button:focus-visible,input:focus-visible,textarea:focus-visible{outline:3px solid #ffb800;outline-offset:2px}',
    '.panel{position:fixed;right:16px;bottom:80px;z-index:2147483000;width:min(380px,calc(100vw - 16px));',
    ' height:min(600px,calc(100vh - 100px));display:flex;flex-direction:column;background:#fff;color:#1a1a1a;',
    ' border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.3);overflow:hidden;font-size:15px}',
    '.panel[hidden]{display:none}',
    '@media (max-width:480px){.panel{right:8px;left:8px;width:auto;bottom:72px;height:calc(100vh - 88px)}}',
    'header{display:flex;align-items:center;justify-content:space-between;padding:10px 14px;background:#1f5eff;color:#fff}',
    'header h2{margin:0;font-size:16px}',
    'header button{background:transparent;border:0;color:#fff;font-size:22px;cursor:pointer;line-height:1}',
    '.log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;background:#f6f7f9}',
    '.msg{max-width:85%;padding:8px 11px;border-radius:10px;white-space:pre-wrap;word-wrap:break-word;line-height:1.45}',
    '.msg[data-author=customer]{align-self:flex-end;background:#1f5eff;color:#fff}',
    '.msg[data-author=bot]{align-self:flex-start;background:#fff;border:1px solid #dde1e7}',
    '.msg[data-author=staff]{align-self:flex-start;background:#fff4d6;border:1px solid #f0c64a}',
    '.msg.notice{align-self:center;background:transparent;border:0;color:#555;font-size:13px;text-align:center}',
    '.msg.pending{opacity:.6}',
    '.who{display:block;font-size:12px;color:#8a6d00;margin-bottom:2px}',
    '.typing{align-self:flex-start;color:#666;font-size:13px}',
    '.quick{display:flex;flex-wrap:wrap;gap:6px;padding:0 12px 8px;background:#f6f7f9}',
    '.quick button{border:1px solid #1f5eff;background:#fff;color:#1f5eff;border-radius:16px;padding:6px 12px;cursor:pointer;font-size:14px}',
    '.datepick{display:flex;gap:6px;padding:0 12px 8px;background:#f6f7f9;align-items:center}',
    '.datepick[hidden]{display:none}',
    '.datepick input{flex:1;padding:6px;font-size:14px}',
    'form{display:flex;gap:6px;padding:10px;border-top:1px solid #e3e6ea;align-items:center}',
    'form input[type=text]{flex:1;padding:9px;border:1px solid #c9ced6;border-radius:8px;font-size:15px;min-width:0}',
    'form button,.datepick button{border:0;background:#1f5eff;color:#fff;border-radius:8px;padding:9px 12px;cursor:pointer;font-size:14px}',
    '.upload{position:relative;overflow:hidden;display:inline-flex}',
    '.upload label{border:1px solid #c9ced6;border-radius:8px;padding:8px 10px;cursor:pointer;font-size:14px;background:#fff}',
    '.upload input{position:absolute;left:0;top:0;width:100%;height:100%;opacity:0;cursor:pointer}',
    '.upload[hidden]{display:none}',
    '.error{color:#b00020;font-size:13px;padding:0 12px 6px}'
  ].join('\n');
  root.appendChild(style);

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }

  var launcher = el('button', { class: 'launcher', type: 'button', 'data-testid': 'rd-launcher', 'aria-expanded': 'false',
                                'aria-controls': 'rd-panel', 'aria-haspopup': 'dialog' }, 'Chat');
  var panel = el('section', { class: 'panel', id: 'rd-panel', role: 'dialog', 'aria-modal': 'false', hidden: '' });
  var header = el('header');
  var title = el('h2', { id: 'rd-title' });
  var closeBtn = el('button', { type: 'button', 'data-testid': 'rd-close' }, '×');
  header.appendChild(title);
  header.appendChild(closeBtn);
  panel.setAttribute('aria-labelledby', 'rd-title');
  var log = el('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', tabindex: '0' });
  var quick = el('div', { class: 'quick', role: 'group' });
  var datePick = el('div', { class: 'datepick', hidden: '' });
  var dateInput = el('input', { type: 'date', 'data-testid': 'rd-date' });
  var dateSend = el('button', { type: 'button', 'data-testid': 'rd-date-send' });
  datePick.appendChild(dateInput);
  datePick.appendChild(dateSend);
  var errorLine = el('div', { class: 'error', role: 'alert' });
  var form = el('form');
  var uploadWrap = el('span', { class: 'upload', hidden: '' });
  var uploadLabel = el('label', { for: 'rd-file' });
  var upload = el('input', { type: 'file', id: 'rd-file', 'data-testid': 'rd-upload',
                             accept: '.pdf,.png,.jpg,.jpeg,.txt,.csv,.xlsx' });
  uploadWrap.appendChild(uploadLabel);
  uploadWrap.appendChild(upload);
  var input = el('input', { type: 'text', 'data-testid': 'rd-input', autocomplete: 'off', maxlength: '2000' });
  var sendBtn = el('button', { type: 'submit', 'data-testid': 'rd-send' });
  form.appendChild(uploadWrap);
  form.appendChild(input);
  form.appendChild(sendBtn);
  panel.appendChild(header);
  panel.appendChild(log);
  panel.appendChild(quick);
  panel.appendChild(datePick);
  panel.appendChild(errorLine);
  panel.appendChild(form);
  root.appendChild(panel);
  root.appendChild(launcher);

  function applyLabels() {
    title.textContent = labels['widget.title'] || 'Refund Desk';
    launcher.textContent = labels['widget.open'] || '';
    launcher.setAttribute('aria-label', labels['widget.open'] || 'Chat');
    closeBtn.setAttribute('aria-label', labels['widget.close'] || 'Close');
    input.setAttribute('placeholder', labels['widget.placeholder'] || '');
    input.setAttribute('aria-label', labels['widget.placeholder'] || 'Message');
    sendBtn.textContent = labels['widget.send'] || 'Send';
    uploadLabel.textContent = labels['widget.upload_short'] || '+';
    uploadLabel.setAttribute('title', labels['widget.upload'] || 'File');
    upload.setAttribute('aria-label', labels['widget.upload'] || 'File');
    dateSend.textContent = labels['widget.date_send'] || 'OK';
    dateInput.setAttribute('aria-label', labels['widget.date_label'] || 'Date');
    quick.setAttribute('aria-label', labels['widget.quick_replies'] || '');
  }

  function api(path, options) {
    return fetch(base + path, options).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) { var e = new Error(j.message || ('HTTP ' + r.status)); e.status = r.status; e.code = j.error; throw e; }
        return j;
      });
    });
  }

  function showError(text) { errorLine.textContent = text || ''; }

  // What to tell the customer when a message or file was refused: the security limits have words of
  // their own (knowledge/messages.json), anything else the generic label and the server's reason.
  var LIMIT_LABELS = { message_too_long: 'widget.too_long', rate_limited: 'widget.rate_limited',
                       conversation_full: 'widget.conversation_full', upload_limit: 'widget.upload_limit' };
  function errorText(generic, e) {
    var key = LIMIT_LABELS[e.code];
    return key && labels[key] ? labels[key] : (labels[generic] || '') + ' ' + e.message;
  }

  // A message id nobody can guess: 128 random bits from the browser's CSPRNG.
  function messageId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join('');
  }

  function addMessage(author, text, extra) {
    // Notices of what staff did come from the system; they read as the bot's, centred.
    var shown = author === 'system' ? 'bot' : author;
    var m = el('div', { class: 'msg', 'data-testid': 'rd-message', 'data-author': shown });
    if (author === 'system') m.className += ' notice';
    if (author === 'staff') m.appendChild(el('span', { class: 'who' }, labels['widget.staff'] || ''));
    m.appendChild(document.createTextNode(text));
    if (extra) m.className += ' ' + extra;
    log.appendChild(m);
    log.scrollTop = log.scrollHeight;
    return m;
  }

  var typing = null;
  function setTyping(on) {
    if (on && !typing) {
      typing = el('div', { class: 'typing', role: 'status', 'data-testid': 'rd-typing' }, labels['widget.typing'] || '…');
      log.appendChild(typing);
      log.scrollTop = log.scrollHeight;
    } else if (!on && typing) {
      typing.remove();
      typing = null;
    }
  }

  function setQuickReplies(list) {
    quick.textContent = '';
    (list || []).forEach(function (q) {
      var b = el('button', { type: 'button', 'data-testid': 'rd-quick-reply' }, q);
      b.addEventListener('click', function () { send(q); });
      quick.appendChild(b);
    });
  }

  function setPending(slot, state) {
    var isDate = !!DATE_SLOTS[slot];
    if (isDate && state !== 'handoff') {
      datePick.removeAttribute('hidden');
      dateInput.max = new Date().toISOString().slice(0, 10);
    } else {
      datePick.setAttribute('hidden', '');
    }
    if (session) uploadWrap.removeAttribute('hidden');
  }

  // Brings the transcript up to date from the server (the one source of truth): replaces the bubbles
  // shown while a message was on its way, adds what is new (staff messages during a handoff).
  // One at a time: a sync starts where the one before it ended, so no message is shown twice.
  var syncing = Promise.resolve();
  function sync() {
    syncing = syncing.then(syncPages, syncPages);
    return syncing;
  }

  function syncPages() {
    if (!session) return Promise.resolve();
    return api('/api/chat/history?session=' + encodeURIComponent(session) + '&after=' + lastSeq).then(function (h) {
      Array.prototype.slice.call(log.querySelectorAll('.pending')).forEach(function (p) { p.remove(); });
      var lastQuick = null;
      h.messages.forEach(function (m) {
        addMessage(m.author, m.text);
        lastSeq = Math.max(lastSeq, m.seq);
        if (m.author !== 'customer') lastQuick = m.quick_replies || [];
        else lastQuick = [];
      });
      if (lastQuick !== null) setQuickReplies(lastQuick);
      setPending(h.pending_slot, h.state);
      if (h.has_more && h.messages.length) return syncPages();  // history comes in pages: the next one
    }).catch(function (e) {
      if (e.status === 404) { session = ''; localStorage.removeItem(storeKey); lastSeq = 0; }
    });
  }

  function send(text) {
    text = (text || '').trim();
    if (!text || busy) return;
    busy = true;
    showError('');
    addMessage('customer', text, 'pending');
    setQuickReplies([]);
    setTyping(true);
    var body = { text: text, lang: lang, client_message_id: messageId() };
    if (session) body.session = session;
    api('/api/chat', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
      .then(function (j) {
        if (j.session && j.session !== session) { session = j.session; localStorage.setItem(storeKey, session); }
        return sync();
      })
      .catch(function (e) { showError(errorText('widget.error', e)); })
      .then(function () { setTyping(false); busy = false; });
  }

  function sendFile(file) {
    if (!file || !session) return;
    showError('');
    addMessage('customer', file.name, 'pending');
    setTyping(true);
    var data = new FormData();
    data.append('session', session);
    data.append('file', file, file.name);
    api('/api/chat/upload', { method: 'POST', body: data })
      .then(sync)
      .catch(function (e) {
        Array.prototype.slice.call(log.querySelectorAll('.pending')).forEach(function (p) { p.remove(); });
        showError(errorText('widget.upload_error', e));
      })
      .then(function () { setTyping(false); upload.value = ''; });
  }

  function poll() {
    clearTimeout(pollTimer);
    if (!open) return;
    pollTimer = setTimeout(function () { (busy ? Promise.resolve() : sync()).then(poll); }, POLL_MS);
  }

  function setOpen(value) {
    open = value;
    launcher.setAttribute('aria-expanded', String(open));
    if (open) {
      panel.removeAttribute('hidden');
      input.focus();
      if (!session && !log.childElementCount) {
        addMessage('bot', labels['widget.welcome'] || '');
      }
      sync().then(poll);
    } else {
      panel.setAttribute('hidden', '');
      clearTimeout(pollTimer);
      launcher.focus();
    }
  }

  launcher.addEventListener('click', function () { setOpen(!open); });
  closeBtn.addEventListener('click', function () { setOpen(false); });
  panel.addEventListener('keydown', function (e) { if (e.key === 'Escape') setOpen(false); });
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var t = input.value;
    input.value = '';
    send(t);
  });
  dateSend.addEventListener('click', function () { if (dateInput.value) send(dateInput.value); });
  upload.addEventListener('change', function () { sendFile(upload.files[0]); });

  api('/api/widget/labels?lang=' + lang, {}).then(function (j) { labels = j.labels || {}; })
    .catch(function () {}).then(function () {
      applyLabels();
      if (session) sync();  // restore the transcript of a returning visitor
    });
})();
