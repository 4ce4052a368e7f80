// Small pieces every view shares: the live region, tabs that follow the ARIA pattern,
// status badges, and repeating a refresh without piling up requests.

/** Says `text` to screen readers (the polite live region). */
export function announce(text) {
  const box = document.getElementById('announce');
  box.textContent = '';
  // A fresh text node makes a repeated message heard again.
  setTimeout(() => { box.textContent = text; }, 50);
}

/** A user-facing sentence for anything thrown by an API call. */
export function errorText(err) {
  if (err && err.code && err.message) return `${err.message} (${err.code})`;
  return String(err && err.message ? err.message : err);
}

/** Marks the tab `isSelected` picks as selected; only it is in the tab order. */
export function selectTab(root, selector, isSelected) {
  for (const tab of root.querySelectorAll(selector)) {
    const on = isSelected(tab);
    tab.setAttribute('aria-selected', on ? 'true' : 'false');
    tab.tabIndex = on ? 0 : -1;
  }
}

/** Arrow keys, Home and End move between tabs and select the one reached. */
export function tabKeys(e, root, selector) {
  const tabs = [...root.querySelectorAll(selector)];
  const i = tabs.indexOf(e.currentTarget);
  const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
  if (to === undefined) return;
  e.preventDefault();
  const next = tabs[(to + tabs.length) % tabs.length];
  next.focus();
  next.click();
}

const TONES = {
  Running: 'ok', Succeeded: 'done', Stopped: 'done', Terminated: 'done',
  Pending: 'busy', Creating: 'busy', Waiting: 'busy', Deleting: 'busy',
  Failed: 'bad',
};

/** Sets a badge's text and colour for a state name. */
export function badge(el, state) {
  el.textContent = state || 'Unknown';
  el.className = `badge ${TONES[state] || 'busy'}`;
}

/** Runs `task` now and then every `ms` after each run ends, until the returned stop is
 *  called. A slow answer delays the next call instead of stacking calls. */
export function every(ms, task) {
  let stopped = false;
  let timer = null;
  const run = async () => {
    try {
      await task();
    } catch (e) {
      // A task shows its own failures; one that escapes must not end the refreshing.
      console.warn(e);
    } finally {
      if (!stopped) timer = setTimeout(run, ms);
    }
  };
  run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** A table cell with a label for the stacked (phone) layout. `wrap` is how its text may
 *  break: 'nowrap' for short values, 'words' for names that should break only between
 *  words at desktop width; by default anywhere, so a long name never widens the page. */
export function cell(label, content, wrap) {
  const td = document.createElement('td');
  td.dataset.label = label;
  if (wrap) td.className = wrap;
  if (content instanceof Node) td.append(content);
  else td.textContent = content ?? '';
  return td;
}

/** A local time for an RFC 3339 stamp, with the stamp itself as the tooltip. */
export function when(stamp) {
  const t = document.createElement('time');
  if (!stamp) return t;
  t.dateTime = stamp;
  t.title = stamp;
  const d = new Date(stamp);
  t.textContent = Number.isNaN(d.getTime()) ? stamp : d.toLocaleString();
  return t;
}
