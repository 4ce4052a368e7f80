// A group's Logs tab: one container's log, read once (`tail`) or followed live (the API's
// chunked stream, read as it arrives), with or without timestamps. Only one request is
// open at a time; changing a setting or leaving the tab aborts it.

import { call, follow, groupPath } from './api.js';

/** Lines fetched when the log is opened; following goes on from there. */
const TAIL = 1000;

export function logsPanel(panel, rg, name) {
  const pre = panel.querySelector('#log');
  const select = panel.querySelector('#log-container');
  const timestamps = panel.querySelector('#log-timestamps');
  const following = panel.querySelector('#log-follow');
  const status = panel.querySelector('#log-status');
  let active = false;
  let controller = null;
  let wanted = null;

  function append(text) {
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
    pre.append(text);
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  }

  function stop() {
    active = false;
    if (controller) controller.abort();
    controller = null;
  }

  async function start() {
    if (controller) controller.abort();
    controller = null;
    active = true;
    const container = select.value;
    if (!container) {
      status.textContent = 'Loading containers…';
      return;
    }
    const mine = new AbortController();
    controller = mine;
    pre.textContent = '';
    const path = `${groupPath(rg, name)}/containers/${encodeURIComponent(container)}/logs?tail=${TAIL}`
      + (timestamps.checked ? '&timestamps=true' : '');
    try {
      if (following.checked) {
        status.textContent = `Following ${container}: new lines appear as it writes them.`;
        await follow(`${path}&follow=true`, append, { signal: mine.signal });
        status.textContent = `${container} has ended; this is its whole log.`;
      } else {
        const { content } = await call('GET', path, undefined, { signal: mine.signal });
        pre.textContent = content;
        pre.scrollTop = pre.scrollHeight;
        status.textContent = `The last ${TAIL} lines of ${container} at most. Turn on Follow to see new ones.`;
      }
    } catch (err) {
      if (err.name === 'AbortError') return;
      status.textContent = `The log could not be read: ${err.message}`;
    } finally {
      if (controller === mine) controller = null;
    }
  }

  select.addEventListener('change', start);
  timestamps.addEventListener('change', start);
  following.addEventListener('change', start);

  return {
    start,
    stop,
    /** Starts again if shown: after a restart, the follow resumes from the new run. */
    restartIfShown() {
      if (active && !controller) start();
    },
    /** Selects `container` the next time the list of containers is known. */
    choose(container) {
      wanted = container;
      if ([...select.options].some((o) => o.value === container)) {
        select.value = container;
        wanted = null;
        if (active) start();
      }
    },
    /** Keeps the container choice in step with the group; starts once one is known. */
    setContainers(names, preferred) {
      const current = [...select.options].map((o) => o.value);
      if (JSON.stringify(current) === JSON.stringify(names)) return;
      const keep = wanted || select.value || preferred;
      select.replaceChildren(...names.map((n) => new Option(n, n)));
      select.value = names.includes(keep) ? keep : (names[0] || '');
      wanted = null;
      if (active) start();
    },
  };
}
