/*
 * Registered users on the kiosk page (docs/registered-users.md), built on kiosk.js's KioskCore:
 *   - log in with user ID + PIN (the PIN is typed on the on-screen pad and cleared once sent);
 *     the session token lives in this page's memory only and is sent as Authorization: Bearer;
 *   - register (profile, PIN, optional photo converted to PNG here, so the printer can print it);
 *   - my cards → report a card lost (the revocation workflow; the card stops working at once);
 *   - my purchases → renew a pass / buy a prepaid value again with one touch;
 *   - autofill: the commuter confirm screen shows the pass holder from the registration, and the
 *     registered commute is listed first among the routes.
 * The next customer never finds someone logged in: idle end screens and Log out end the session.
 */
'use strict';

(() => {
  const K = window.KioskCore;
  if (!K) return;
  const { h, api, ApiError, go, setScreen, heading, tile, busy, showError, money } = K;

  const PHOTO_BOX = { width: 300, height: 400 }; // scaled down before upload: the face prints 180 × 240
  const PHOTO_MAX_BYTES = 384 * 1024;

  /** { token, expiresAt, user } while someone is logged in. */
  let session = null;

  const loggedIn = () => session !== null && Date.parse(session.expiresAt) > Date.now();

  K.hooks.authHeaders = () => (loggedIn() ? { authorization: `Bearer ${session.token}` } : {});
  K.hooks.onUnauthorized = () => {
    if (session) showError('Your login has ended. Please log in again with your user ID and PIN.');
    session = null;
  };
  K.hooks.onIdle = () => void logout(false);
  K.hooks.isMyRoute = (route) => {
    const u = loggedIn() ? session.user : null;
    if (!u || !u.commuteFrom || !u.commuteTo) return false;
    const a = [route.origin, route.destination].map((s) => s.toLowerCase());
    const b = [u.commuteFrom, u.commuteTo].map((s) => s.toLowerCase());
    return (a[0] === b[0] && a[1] === b[1]) || (a[0] === b[1] && a[1] === b[0]);
  };
  K.hooks.homeExtras = memberBar;
  K.hooks.confirmExtras = holderPanel;

  async function logout(toHome = true) {
    const had = session;
    session = null;
    if (had) await fetch('/api/users/me/logout', { method: 'POST', headers: { authorization: `Bearer ${had.token}` } }).catch(() => undefined);
    if (toHome) await K.resetToHome();
  }

  // ---------------------------------------------------------------------------------------------
  // The member bar on the home screen

  function memberBar() {
    if (!loggedIn()) {
      return h(
        'div',
        { class: 'panel member-bar', testid: 'member-bar' },
        h('p', {}, 'Registered? Log in to skip typing your details, renew your pass with one touch, or report a lost card.'),
        h(
          'div',
          { class: 'member-actions' },
          h('button', { type: 'button', class: 'btn btn-primary', testid: 'member-login', onclick: () => go('Log in', screenLogin) }, 'Log in'),
          h('button', { type: 'button', class: 'btn btn-secondary', testid: 'member-register', onclick: () => go('Register', screenRegister) }, 'Register'),
        ),
      );
    }
    const u = session.user;
    return h(
      'div',
      { class: 'panel member-bar', testid: 'member-bar' },
      h('p', { testid: 'member-name' }, `Logged in: ${u.name} (${u.userId})`),
      h(
        'div',
        { class: 'member-actions' },
        h('button', { type: 'button', class: 'btn btn-secondary', testid: 'my-purchases', onclick: () => go('My purchases', screenPurchases) }, 'My purchases · renew'),
        h('button', { type: 'button', class: 'btn btn-secondary', testid: 'my-cards', onclick: () => go('My cards', screenCards) }, 'My cards · report lost'),
        h('button', { type: 'button', class: 'btn btn-danger', testid: 'member-logout', onclick: () => busy(() => logout()) }, 'Log out'),
      ),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Log in

  function screenLogin() {
    const userId = h('input', { class: 'card-input', testid: 'login-user-id', autocomplete: 'off', placeholder: 'User ID (U and 9 digits)', maxlength: '10' });
    let pin = '';
    const shown = h('div', { class: 'pin-display', testid: 'login-pin-display' }, 'Enter PIN');
    const showPin = () => (shown.textContent = '●'.repeat(pin.length) || 'Enter PIN');
    const key = (label, testid, fn) => h('button', { type: 'button', class: 'pin-key', testid, onclick: fn }, label);
    const submit = () =>
      busy(async () => {
        const id = userId.value.trim().toUpperCase();
        if (!/^U[0-9]{9}$/.test(id)) throw new Error('Please type your user ID: U and 9 digits.');
        if (!/^[0-9]{4,8}$/.test(pin)) throw new Error('Please enter your PIN (4 to 8 digits).');
        const sent = pin;
        pin = '';
        showPin();
        session = await api('POST', `/api/kiosk/${encodeURIComponent(K.TERMINAL_ID)}/login`, { userId: id, pin: sent });
        await K.resetToHome();
      });
    setScreen(
      'login',
      heading('Log in', 'Your user ID and PIN. Five wrong PINs lock the account.'),
      h(
        'div',
        { class: 'panel card-reader', testid: 'login-form' },
        userId,
        h(
          'div',
          { class: 'pin-pad' },
          shown,
          h(
            'div',
            { class: 'pin-keys' },
            ['1', '2', '3', '4', '5', '6', '7', '8', '9'].map((d) => key(d, `login-pin-${d}`, () => { if (pin.length < 8) pin += d; showPin(); })),
            key('Clear', 'login-pin-clear', () => { pin = ''; showPin(); }),
            key('0', 'login-pin-0', () => { if (pin.length < 8) pin += '0'; showPin(); }),
            key('⌫', 'login-pin-back', () => { pin = pin.slice(0, -1); showPin(); }),
          ),
        ),
      ),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-primary btn-large', testid: 'login-submit', onclick: submit }, 'Log in')),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Register

  const FIELDS = [
    ['name', 'Name', { required: true, placeholder: 'Yamada Hanako' }],
    ['nameKana', 'Name in kana', { placeholder: 'ヤマダ ハナコ' }],
    ['birthDate', 'Birth date', { required: true, type: 'date' }],
    ['gender', 'Gender', { select: ['', 'female', 'male', 'other', 'unspecified'] }],
    ['postalCode', 'Postal code', { placeholder: '160-0022' }],
    ['address', 'Address', { required: true }],
    ['phone', 'Phone', { required: true, placeholder: '090-1234-5678', inputmode: 'tel' }],
    ['email', 'E-mail', { type: 'email' }],
    ['occupation', 'Occupation', {}],
    ['workplaceName', 'Workplace or school', {}],
    ['workplaceAddress', 'Its address', {}],
    ['commuteFrom', 'Commute from (station)', {}],
    ['commuteTo', 'Commute to (station)', {}],
  ];

  function screenRegister() {
    const inputs = {};
    const rows = FIELDS.map(([name, label, o]) => {
      const input = o.select
        ? h('select', { testid: `reg-${name}` }, o.select.map((v) => h('option', { value: v }, v || '—')))
        : h('input', { testid: `reg-${name}`, type: o.type || 'text', placeholder: o.placeholder, inputmode: o.inputmode, autocomplete: 'off' });
      inputs[name] = input;
      return h('label', { class: 'form-row' }, h('span', {}, `${label}${o.required ? ' *' : ''}`), input);
    });
    const pin1 = h('input', { testid: 'reg-pin', type: 'password', inputmode: 'numeric', maxlength: '8', autocomplete: 'new-password' });
    const pin2 = h('input', { testid: 'reg-pin-again', type: 'password', inputmode: 'numeric', maxlength: '8', autocomplete: 'new-password' });
    const photo = h('input', { testid: 'reg-photo', type: 'file', accept: 'image/png,image/jpeg' });
    const submit = () =>
      busy(async () => {
        if (pin1.value !== pin2.value) throw new Error('The two PINs differ. Please type the same PIN twice.');
        const body = { pin: pin1.value };
        for (const [name] of FIELDS) {
          const v = inputs[name].value.trim();
          if (v) body[name] = v;
        }
        if (photo.files && photo.files[0]) body.photo = { contentType: 'image/png', base64: await photoAsPng(photo.files[0]) };
        const created = await api('POST', '/api/users', body);
        pin1.value = '';
        pin2.value = '';
        screenRegistered(created);
      });
    setScreen(
      'register',
      heading('Register', 'Fields with * are required. An operator checks your identity once when you show an ID document.'),
      h('div', { class: 'panel reg-form', testid: 'register-form' }, rows, h('label', { class: 'form-row' }, h('span', {}, 'PIN (4-8 digits) *'), pin1), h('label', { class: 'form-row' }, h('span', {}, 'PIN again *'), pin2), h('label', { class: 'form-row' }, h('span', {}, 'Face photo (for photo cards)'), photo)),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-primary btn-large', testid: 'register-submit', onclick: submit }, 'Register')),
    );
  }

  /** The photo, scaled to fit 300 × 400 and re-encoded as PNG (what the card printer prints), base64. */
  function photoAsPng(file) {
    return new Promise((resolve, reject) => {
      const url = URL.createObjectURL(file);
      const img = new Image();
      img.onload = () => {
        const scale = Math.min(1, PHOTO_BOX.width / img.width, PHOTO_BOX.height / img.height);
        const canvas = document.createElement('canvas');
        canvas.width = Math.max(16, Math.round(img.width * scale));
        canvas.height = Math.max(16, Math.round(img.height * scale));
        canvas.getContext('2d').drawImage(img, 0, 0, canvas.width, canvas.height);
        URL.revokeObjectURL(url);
        const base64 = canvas.toDataURL('image/png').split(',')[1];
        if ((base64.length * 3) / 4 > PHOTO_MAX_BYTES) reject(new Error('The photo is too large even when scaled down; please choose a simpler one.'));
        else resolve(base64);
      };
      img.onerror = () => {
        URL.revokeObjectURL(url);
        reject(new Error('That file is not a photo this kiosk can read (PNG or JPEG).'));
      };
      img.src = url;
    });
  }

  function screenRegistered(user) {
    K.clearError();
    setScreen(
      'registered',
      heading('You are registered', 'Keep your user ID with your PIN.'),
      h('div', { class: 'panel' }, h('p', { class: 'big' }, 'Your user ID'), h('p', { class: 'user-id', testid: 'new-user-id' }, user.userId), h('p', { class: 'muted' }, user.message)),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-primary btn-large', testid: 'registered-login', onclick: () => go('Log in', screenLogin) }, 'Log in now')),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // My purchases → renew / buy again

  const day = (iso) => (iso ? iso.slice(0, 10) : '—');

  async function screenPurchases() {
    setScreen('purchases', h('p', { class: 'muted loading' }, 'Loading…'));
    const { purchases } = await api('GET', '/api/users/me/purchases');
    const tiles = purchases.map((p) =>
      tile({
        testid: `purchase-${p.issuanceId}`,
        title: p.title,
        detail: `${p.productType === 'commuter' ? `valid ${day(p.validFrom)} – ${day(p.validUntil)}` : `bought ${day(p.boughtAt)}`} · ${money(p.totalMinor, p.currency)}${p.revoked ? ' · reported lost' : ''}`,
        aside: p.canBuyAgain ? (p.productType === 'commuter' ? 'Renew ›' : 'Buy again ›') : null,
        disabled: !p.canBuyAgain,
        onclick: () => buyAgain(p),
      }),
    );
    setScreen('purchases', heading('My purchases', 'Renew a pass (it starts when the current one ends) or buy the same card again.'), tiles.length ? h('div', { class: 'tiles' }, tiles) : h('p', { class: 'muted' }, 'No purchases yet.'));
  }

  function buyAgain(purchase) {
    return busy(async () => {
      const body = await api('POST', `/api/users/me/purchases/${encodeURIComponent(purchase.issuanceId)}/again`, { requestId: K.newRequestId() });
      await K.adoptIssuance(body);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // My cards → report lost

  async function screenCards() {
    setScreen('my-cards', h('p', { class: 'muted loading' }, 'Loading…'));
    const { cards } = await api('GET', '/api/users/me/cards');
    const tiles = cards.map((c) =>
      tile({
        testid: `my-card-${c.cardId}`,
        title: c.title,
        detail: `Card ${c.cardId} · ${c.status === 'revoked' ? `reported ${c.revocation.reason}` : c.validUntil ? `valid until ${day(c.validUntil)}` : 'valid'}`,
        aside: c.status === 'valid' ? 'Report lost ›' : 'Invalid',
        disabled: c.status !== 'valid',
        onclick: () => go('Report lost', () => screenReportLost(c)),
      }),
    );
    setScreen('my-cards', heading('My cards', 'A card you report lost stops working at once, and its issuer is told.'), tiles.length ? h('div', { class: 'tiles' }, tiles) : h('p', { class: 'muted' }, 'No cards yet.'));
  }

  function screenReportLost(card) {
    const report = (reason) =>
      busy(async () => {
        const r = await api('POST', `/api/users/me/cards/${encodeURIComponent(card.cardId)}/report-lost`, { requestId: K.newRequestId(), reason });
        K.clearError();
        setScreen('reported', heading(r.status === 'revoked' ? 'The card is now invalid' : 'Your report is being processed', r.message), h('p', { class: 'ref', testid: 'reported-card' }, `Card ${r.cardId} · ${r.reason}`), h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-primary btn-large', onclick: () => K.resetToHome() }, 'Done')));
      });
    setScreen(
      'report-lost',
      heading(`Report card ${card.cardId}?`, `${card.title}. Gates and readers will refuse it from now on; this cannot be undone.`),
      h(
        'div',
        { class: 'actions member-actions' },
        h('button', { type: 'button', class: 'btn btn-danger btn-large', testid: 'report-lost', onclick: () => report('lost') }, 'It is lost'),
        h('button', { type: 'button', class: 'btn btn-danger btn-large', testid: 'report-stolen', onclick: () => report('stolen') }, 'It was stolen'),
      ),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Autofill on the confirm screen

  function holderPanel(item) {
    const u = loggedIn() ? session.user : null;
    const needsPhoto = item.holderFace && item.holderFace.photo;
    if (!u) {
      return item.productType === 'commuter'
        ? h('p', { class: 'muted holder-note', testid: 'holder-login-hint' }, 'Registered? Log in first to have your name printed on the pass and renew it later with one touch.')
        : null;
    }
    const rows = [
      ['Name', u.name],
      ['Kana', u.nameKana],
      ['Birth date', u.birthDate],
      ['Phone', u.phone],
      ['Address', u.address],
    ].filter(([, v]) => v);
    return h(
      'div',
      { class: 'holder-panel', testid: 'holder-panel' },
      h('h3', {}, item.productType === 'commuter' ? 'Pass holder (from your registration)' : 'Registered to you'),
      item.productType === 'commuter' ? h('dl', { class: 'holder-table' }, rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', { testid: `holder-${k.toLowerCase().replace(' ', '-')}` }, v)])) : null,
      h('p', { class: 'muted' }, `Your user ID ${u.userId} is written on the card's chip, so you can report it lost at any kiosk.${needsPhoto ? ' Your photo is printed on the card.' : ''}`),
    );
  }
})();
