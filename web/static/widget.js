/*
 * kefu web chat widget. Embed with:
 *   <script src="https://HOST/widget.js" data-site="SITE_ID"></script>
 * Optional attributes: data-title, data-color, data-open="true".
 *
 * Every message is rendered with textContent, never as HTML. The visitor id
 * and token are kept in localStorage, so history survives reloads; the
 * WebSocket reconnects by itself and long-polling covers the gaps.
 */
(function () {
  'use strict';
  var script = document.currentScript || (function () {
    var all = document.querySelectorAll('script[data-site]');
    return all[all.length - 1];
  })();
  if (!script || window.__kefuWidget) { return; }
  var site = script.getAttribute('data-site');
  if (!site) { return; }
  var origin = new URL(script.src, location.href).origin;
  var api = origin + '/api/web/' + encodeURIComponent(site);
  var wsURL = origin.replace(/^http/, 'ws') + '/ws/web/' + encodeURIComponent(site);
  var title = script.getAttribute('data-title') || '在线客服';
  var color = script.getAttribute('data-color') || '#07c160';
  var storeKey = 'kefu:' + origin + ':' + site;

  var state = {
    visitor: null, token: null, lastId: '', seen: {}, pending: {},
    ws: null, wsOpen: false, retry: 0, polling: false, started: false, open: false, unread: 0
  };
  try {
    var saved = JSON.parse(localStorage.getItem(storeKey) || '{}');
    state.visitor = saved.visitor_id || null;
    state.token = saved.token || null;
  } catch (e) { /* private mode: no persistence */ }
  function save() {
    try { localStorage.setItem(storeKey, JSON.stringify({ visitor_id: state.visitor, token: state.token })); } catch (e) { }
  }

  // ---- DOM (in a shadow root so the host page's CSS cannot break it) ----
  var host = document.createElement('div');
  host.id = 'kefu-widget';
  var root = host.attachShadow ? host.attachShadow({ mode: 'open' }) : host;
  var css = document.createElement('style');
  css.textContent = [
    ':host{all:initial}',
    '*{box-sizing:border-box;font-family:-apple-system,BlinkMacSystemFont,"PingFang SC","Microsoft YaHei",sans-serif}',
    '.launcher{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;background:var(--c);color:#fff;font-size:24px;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000}',
    '.badge{position:absolute;top:-2px;right:-2px;min-width:20px;height:20px;border-radius:10px;background:#fa5151;color:#fff;font-size:12px;line-height:20px;text-align:center;padding:0 5px}',
    '.panel{position:fixed;right:20px;bottom:88px;width:360px;height:560px;max-height:calc(100vh - 110px);background:#fff;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.2);display:none;flex-direction:column;overflow:hidden;z-index:2147483001}',
    '.panel.open{display:flex}',
    '.head{background:var(--c);color:#fff;padding:12px 16px;display:flex;align-items:center;justify-content:space-between;font-size:16px}',
    '.status{font-size:12px;opacity:.85;margin-left:8px}',
    '.close{background:transparent;border:0;color:#fff;font-size:22px;cursor:pointer;line-height:1}',
    '.log{flex:1;overflow-y:auto;padding:12px;background:#f5f5f5}',
    '.row{display:flex;flex-direction:column;margin:8px 0;align-items:flex-start}',
    '.row.me{align-items:flex-end}',
    '.name{font-size:12px;color:#888;margin:0 4px 2px}',
    '.bubble{max-width:80%;padding:8px 12px;border-radius:8px;background:#fff;color:#222;font-size:14px;line-height:1.5;white-space:pre-wrap;word-break:break-word}',
    '.row.me .bubble{background:var(--c);color:#fff}',
    '.row.system .bubble{background:transparent;color:#888;font-size:12px;align-self:center}',
    '.row.pending .bubble{opacity:.6}',
    '.choices{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px;max-width:90%}',
    '.choice{border:1px solid var(--c);background:#fff;color:var(--c);border-radius:14px;padding:4px 10px;font-size:13px;cursor:pointer}',
    '.typing{font-size:12px;color:#888;padding:0 12px 6px;background:#f5f5f5;min-height:18px}',
    'form{display:flex;border-top:1px solid #e5e5e5;padding:8px;gap:8px;background:#fff}',
    'textarea{flex:1;resize:none;border:1px solid #ddd;border-radius:6px;padding:8px;font-size:14px;height:40px;max-height:120px}',
    '.send{background:var(--c);color:#fff;border:0;border-radius:6px;padding:0 16px;font-size:14px;cursor:pointer}',
    '.send:disabled{opacity:.5;cursor:default}',
    '@media (max-width:480px){.panel{right:0;bottom:0;width:100vw;height:100vh;max-height:none;border-radius:0}.launcher{right:14px;bottom:14px}}'
  ].join('\n');
  root.appendChild(css);
  var wrap = document.createElement('div');
  wrap.style.setProperty('--c', color);
  root.appendChild(wrap);

  var launcher = el('button', 'launcher');
  launcher.type = 'button';
  launcher.setAttribute('aria-label', '打开在线客服');
  launcher.textContent = '💬';
  var badge = el('span', 'badge');
  badge.style.display = 'none';
  launcher.appendChild(badge);

  var panel = el('div', 'panel');
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-label', title);
  var head = el('div', 'head');
  var headTitle = el('span', 'title');
  headTitle.textContent = title;
  var status = el('span', 'status');
  headTitle.appendChild(status);
  var closeBtn = el('button', 'close');
  closeBtn.type = 'button';
  closeBtn.setAttribute('aria-label', '关闭');
  closeBtn.textContent = '×';
  head.appendChild(headTitle);
  head.appendChild(closeBtn);
  var log = el('div', 'log');
  log.setAttribute('role', 'log');
  log.setAttribute('aria-live', 'polite');
  var typing = el('div', 'typing');
  var form = el('form', 'form');
  var input = el('textarea', 'input');
  input.setAttribute('placeholder', '请输入您的问题…');
  input.setAttribute('aria-label', '消息');
  input.maxLength = 2000;
  var send = el('button', 'send');
  send.type = 'submit';
  send.textContent = '发送';
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(head);
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(form);
  wrap.appendChild(panel);
  wrap.appendChild(launcher);
  (document.body || document.documentElement).appendChild(host);

  function el(tag, cls) { var e = document.createElement(tag); if (cls) { e.className = cls; } return e; }

  launcher.addEventListener('click', function () { openPanel(); });
  closeBtn.addEventListener('click', function () { setOpen(false); });
  form.addEventListener('submit', function (e) { e.preventDefault(); submit(); });
  input.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
  });

  function setOpen(open) {
    state.open = open;
    panel.classList.toggle('open', open);
    launcher.setAttribute('aria-expanded', open ? 'true' : 'false');
    try { sessionStorage.setItem(storeKey + ':open', open ? '1' : ''); } catch (e) { }
    if (open) { state.unread = 0; showBadge(); }
  }
  function openPanel() {
    setOpen(true);
    input.focus();
    start();
  }
  function showBadge() {
    badge.style.display = state.unread > 0 ? '' : 'none';
    badge.textContent = state.unread > 99 ? '99+' : String(state.unread);
  }
  function setStatus(text) { status.textContent = text ? '· ' + text : ''; }

  // ---- HTTP ----
  function request(method, path, body) {
    var headers = { 'Content-Type': 'application/json' };
    if (state.token) { headers.Authorization = 'Bearer ' + state.token; }
    return fetch(api + path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined })
      .then(function (res) {
        if (res.status === 401 && path !== '/sessions') {
          state.token = null;
          return session().then(function () { return request(method, path, body); });
        }
        return res.json().catch(function () { return {}; }).then(function (data) {
          if (!res.ok) { var err = new Error(data.error || ('HTTP ' + res.status)); err.status = res.status; throw err; }
          return data;
        });
      });
  }
  function session() {
    var body = state.visitor ? { visitor_id: state.visitor } : {};
    return request('POST', '/sessions', body).then(function (data) {
      state.visitor = data.visitor_id;
      state.token = data.token;
      save();
    });
  }

  // ---- start: session, history, live connection ----
  function start() {
    if (state.started) { return; }
    state.started = true;
    setStatus('连接中');
    (state.token ? Promise.resolve() : session())
      .then(function () { return request('GET', '/messages'); })
      .then(function (data) { (data.messages || []).forEach(render); })
      .catch(function () { })
      .then(function () { connect(); });
  }

  function connect() {
    if (!window.WebSocket || !state.token) { poll(); return; }
    var url = wsURL + '?token=' + encodeURIComponent(state.token) + (state.lastId ? '&after=' + encodeURIComponent(state.lastId) : '');
    var ws;
    try { ws = new WebSocket(url); } catch (e) { poll(); reconnectLater(); return; }
    state.ws = ws;
    ws.onopen = function () { state.wsOpen = true; state.retry = 0; setStatus('在线'); };
    ws.onmessage = function (ev) {
      var data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      if (data.type === 'message' && data.message) { render(data.message); }
      else if (data.type === 'stream' && data.data) { renderStream(data.data); }
      else if (data.type === 'error' && data.error) { notice(data.error); }
    };
    ws.onclose = function () {
      var wasOpen = state.wsOpen;
      state.wsOpen = false;
      state.ws = null;
      setStatus('重新连接中');
      if (!wasOpen && state.retry > 2) {
        // The token may have expired: get a fresh one before retrying.
        session().catch(function () { });
      }
      poll();
      reconnectLater();
    };
  }
  function reconnectLater() {
    var delay = Math.min(30000, 1000 * Math.pow(2, state.retry++)) * (0.75 + Math.random() / 2);
    setTimeout(connect, delay);
  }
  // Long-poll while the WebSocket is down, so nothing is missed.
  function poll() {
    if (state.polling) { return; }
    state.polling = true;
    (function loop() {
      if (state.wsOpen) { state.polling = false; return; }
      request('GET', '/messages?wait=25' + (state.lastId ? '&after=' + encodeURIComponent(state.lastId) : ''))
        .then(function (data) { (data.messages || []).forEach(render); setTimeout(loop, 100); })
        .catch(function () { setTimeout(loop, 3000); });
    })();
  }

  // ---- sending ----
  var seq = 0;
  function submit(text) {
    text = (text === undefined ? input.value : text).trim();
    if (!text) { return; }
    if (text.length > 2000) { notice('消息太长，请分几次发送'); return; }
    if (text === input.value.trim()) { input.value = ''; }
    var id = 'w' + Date.now().toString(36) + (seq++).toString(36) + Math.random().toString(36).slice(2, 6);
    var row = bubble({ from: 'visitor', text: text }, true);
    state.pending[id] = row;
    showTyping(true);
    var body = { type: 'text', text: text, id: id };
    if (state.wsOpen && state.ws) {
      state.ws.send(JSON.stringify(body));
      return;
    }
    (state.token ? Promise.resolve() : session())
      .then(function () { return request('POST', '/messages', body); })
      .then(function (data) { (data.replies || []).forEach(render); })
      .catch(function (err) {
        row.classList.add('failed');
        notice(err && err.status === 429 ? '发送太频繁了，请稍后再试' : '发送失败，请检查网络后重试');
        showTyping(false);
      });
  }

  var typingTimer = null;
  function showTyping(on) {
    typing.textContent = on ? '客服正在输入…' : '';
    clearTimeout(typingTimer);
    if (on) { typingTimer = setTimeout(function () { showTyping(false); }, 15000); }
  }

  // ---- rendering (textContent only) ----
  function render(m) {
    if (!m || !m.id || state.seen[m.id]) { return; }
    state.seen[m.id] = true;
    if (!state.lastId || after(m.id, state.lastId)) { state.lastId = m.id; }
    if (m.type === 'event') { return; }
    if (m.from === 'visitor' && m.client_id && state.pending[m.client_id]) {
      state.pending[m.client_id].classList.remove('pending');
      delete state.pending[m.client_id];
      return;
    }
    removeStream(m);
    if (m.from === 'bot' || m.from === 'agent') {
      showTyping(false);
      if (!state.open) { state.unread++; showBadge(); }
    }
    bubble(m, false);
  }
  function after(a, b) {
    var x = a.split('-'), y = b.split('-');
    if (x[0] !== y[0]) { return Number(x[0]) > Number(y[0]); }
    return Number(x[1]) > Number(y[1]);
  }
  function bubble(m, pending) {
    var row = el('div', 'row ' + (m.from === 'visitor' ? 'me' : m.from));
    if (pending) { row.classList.add('pending'); }
    if (m.from === 'bot' || m.from === 'agent') {
      var name = el('div', 'name');
      name.textContent = m.name || (m.from === 'agent' ? '人工客服' : '智能客服');
      row.appendChild(name);
    }
    var b = el('div', 'bubble');
    if (m.type === 'image' && m.url) {
      var img = el('img');
      img.src = m.url;
      img.alt = m.text || '图片';
      img.style.maxWidth = '100%';
      b.appendChild(img);
    } else if (m.type === 'card' && m.card) {
      var t = el('div');
      t.style.fontWeight = '600';
      t.textContent = m.card.title || '';
      b.appendChild(t);
      if (m.card.description) { var d = el('div'); d.textContent = m.card.description; b.appendChild(d); }
      if (m.card.url && /^https?:\/\//i.test(m.card.url)) {
        var a = el('a');
        a.href = m.card.url; a.target = '_blank'; a.rel = 'noopener noreferrer'; a.textContent = '查看详情';
        b.appendChild(a);
      }
    } else {
      b.textContent = m.text || '';
    }
    row.appendChild(b);
    if (m.choices && m.choices.length) {
      var box = el('div', 'choices');
      m.choices.forEach(function (c) {
        var btn = el('button', 'choice');
        btn.type = 'button';
        btn.textContent = c.title;
        btn.addEventListener('click', function () { submit(c.title); });
        box.appendChild(btn);
      });
      row.appendChild(box);
    }
    log.appendChild(row);
    log.scrollTop = log.scrollHeight;
    return row;
  }
  function notice(text) { bubble({ from: 'system', text: text }, false); }

  // Replies being generated arrive as stream pieces before the final message.
  var streams = {};
  function renderStream(d) {
    if (!d.stream_id) { return; }
    var s = streams[d.stream_id];
    if (!s) {
      s = streams[d.stream_id] = { row: bubble({ from: 'bot', name: d.name, text: '' }, false), text: '' };
    }
    s.text += d.delta || '';
    s.row.querySelector('.bubble').textContent = s.text;
    log.scrollTop = log.scrollHeight;
    showTyping(false);
  }
  function removeStream(m) {
    if (m.stream_id && streams[m.stream_id]) {
      streams[m.stream_id].row.remove();
      delete streams[m.stream_id];
    }
  }

  window.__kefuWidget = { open: openPanel, close: function () { setOpen(false); } };
  var reopen = false;
  try { reopen = sessionStorage.getItem(storeKey + ':open') === '1'; } catch (e) { }
  if (reopen || script.getAttribute('data-open') === 'true') { openPanel(); }
})();
