// The list of container groups and a group's own page (Overview, Containers, Logs), both
// kept current by polling the API; and the group actions: restart, stop, start, delete.

import { call, frontDoorUrl, groupPath, groupsPath, list, portal, resourceGroupOf } from './api.js';
import { metricsPanel } from './charts.js';
import { logsPanel } from './logs.js';
import { announce, badge, cell, errorText, every, selectTab, tabKeys, when } from './ui.js';

/** How often a view asks the API again: state changes show without a reload. */
const REFRESH_MS = 1500;
/** How often the live charts read /metrics: often enough to move, rarely enough to cost nothing. */
const METRICS_MS = 2000;

const stateOf = (g) => g.properties.instanceView?.state || g.properties.provisioningState;
const groupHref = (rg, name, tab = 'overview') => `#/groups/${encodeURIComponent(rg)}/${encodeURIComponent(name)}/${tab}`;

function link(href, text, external) {
  const a = document.createElement('a');
  a.href = href;
  a.textContent = text;
  if (external) {
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
  }
  return a;
}

function fqdnLink(fqdn) {
  const a = link(frontDoorUrl(fqdn), fqdn, 'nowrap');
  a.className = 'fqdn';
  a.setAttribute('aria-label', `${fqdn} (opens the running app in a new tab)`);
  return a;
}

function stateBadge(state) {
  const span = document.createElement('span');
  badge(span, state);
  return span;
}

/** Replaces `tbody`'s rows with `rows` ([key, signature, build]) but rebuilds only rows
 *  whose signature changed, so focus and selection in the table survive a refresh. */
function syncRows(tbody, rows) {
  const old = new Map([...tbody.children].map((tr) => [tr.dataset.key, tr]));
  const next = rows.map(([key, sig, build]) => {
    const tr = old.get(key);
    if (tr && tr.dataset.sig === sig) return tr;
    const fresh = build();
    fresh.dataset.key = key;
    fresh.dataset.sig = sig;
    return fresh;
  });
  const same = next.length === tbody.children.length && next.every((tr, i) => tbody.children[i] === tr);
  if (!same) tbody.replaceChildren(...next);
}

export function renderList(main) {
  main.querySelector('.sub').textContent = portal.config.subscription;
  const tbody = main.querySelector('#group-table tbody');
  const banner = main.querySelector('#list-error');
  return every(REFRESH_MS, async () => {
    let groups;
    try {
      // Every page of the list, following nextLink.
      const listed = await list(groupsPath());
      // Lists omit instance views, as ACI's do: each group's state is its own GET.
      groups = await Promise.all(listed.map((g) =>
        call('GET', groupPath(resourceGroupOf(g.id), g.name)).catch(() => g)));
      banner.hidden = true;
    } catch (err) {
      banner.textContent = `The list could not be refreshed: ${errorText(err)}`;
      banner.hidden = false;
      return;
    }
    groups.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
    main.querySelector('#list-empty').hidden = groups.length > 0;
    main.querySelector('.table-wrap').hidden = groups.length === 0;
    syncRows(tbody, groups.map((g) => {
      const rg = resourceGroupOf(g.id);
      const ip = g.properties.ipAddress || {};
      const images = g.properties.containers.map((c) => c.properties.image).join(', ');
      const state = stateOf(g);
      return [g.id, JSON.stringify([state, images, ip.ip, ip.fqdn]), () => {
        const tr = document.createElement('tr');
        tr.append(
          cell('Name', link(groupHref(rg, g.name), g.name)),
          cell('Resource group', rg),
          cell('Status', stateBadge(state), 'nowrap'),
          cell('Image', images, 'words'),
          cell('IP address', ip.ip || '—', 'nowrap'),
          cell('FQDN', ip.fqdn ? fqdnLink(ip.fqdn) : '—', 'words'),
        );
        return tr;
      }];
    }));
  });
}

export function renderGroup(main, rg, name, firstTab) {
  const $ = (sel) => main.querySelector(sel);
  for (const el of main.querySelectorAll('.g-name')) el.textContent = name;
  for (const el of main.querySelectorAll('.g-rg')) el.textContent = rg;
  $('#g-sub').textContent = portal.config.subscription;
  const path = groupPath(rg, name);
  const logs = logsPanel($('#gpanel-logs'), rg, name);
  const readMetrics = metricsPanel($('#g-metrics'), portal.config.subscription, rg, name);
  const banner = $('#g-error');
  let tab = null;
  let group = null;
  let gone = false;

  function showTab(next, focus) {
    if (!['overview', 'containers', 'logs'].includes(next)) next = 'overview';
    if (next === tab) return;
    tab = next;
    selectTab(main, '[data-tab]', (b) => b.dataset.tab === tab);
    for (const t of ['overview', 'containers', 'logs']) $(`#gpanel-${t}`).hidden = t !== tab;
    // The address names the tab, so a reload or a shared link lands on it.
    history.replaceState(history.state, '', groupHref(rg, name, tab));
    if (tab === 'logs') logs.start();
    else logs.stop();
    if (focus) $(`#gtab-${tab}`).focus();
  }
  for (const b of main.querySelectorAll('[data-tab]')) {
    b.addEventListener('click', () => showTab(b.dataset.tab));
    b.addEventListener('keydown', (e) => tabKeys(e, main, '[data-tab]'));
  }

  function fill(g) {
    const p = g.properties;
    const ip = p.ipAddress || {};
    const state = stateOf(g);
    badge($('#g-state'), state);
    $('#g-provisioning').textContent = p.provisioningState;
    $('#g-location').textContent = g.location;
    $('#g-ip').textContent = ip.ip || 'none';
    const fqdn = $('#g-fqdn');
    if (fqdn.dataset.value !== (ip.fqdn || '')) {
      fqdn.dataset.value = ip.fqdn || '';
      fqdn.replaceChildren(ip.fqdn ? fqdnLink(ip.fqdn) : 'none (no DNS name label)');
    }
    $('#g-ports').textContent = (ip.ports || []).map((x) => `${x.port}/${x.protocol}`).join(', ') || 'none';
    $('#g-restart-policy').textContent = p.restartPolicy;
    $('#g-count').textContent = String(p.containers.length);
    $('#g-stop').disabled = state === 'Stopped';
    $('#g-start').disabled = !['Stopped', 'Succeeded', 'Failed'].includes(state);

    const all = [...(p.initContainers || []), ...p.containers];
    syncRows($('#g-containers tbody'), all.map((c) => {
      const v = c.properties.instanceView || {};
      const cur = v.currentState || {};
      const detail = cur.detailStatus ? ` (${cur.detailStatus}${cur.exitCode !== undefined ? `, exit code ${cur.exitCode}` : ''})` : '';
      const req = c.properties.resources?.requests || {};
      return [c.name, JSON.stringify([cur, v.restartCount, c.properties.image]), () => {
        const tr = document.createElement('tr');
        const logsButton = document.createElement('button');
        logsButton.type = 'button';
        logsButton.className = 'link';
        logsButton.textContent = 'Logs';
        logsButton.setAttribute('aria-label', `Logs of ${c.name}`);
        logsButton.addEventListener('click', () => {
          logs.choose(c.name);
          showTab('logs', 'nowrap');
        });
        const stateCell = cell('State', stateBadge(cur.state || 'Waiting'));
        stateCell.append(detail);
        tr.append(cell('Name', c.name), cell('Image', c.properties.image), stateCell,
          cell('Restarts', String(v.restartCount ?? 0), 'nowrap'), cell('CPU cores', String(req.cpu ?? ''), 'nowrap'),
          cell('Memory (GB)', String(req.memoryInGB ?? ''), 'nowrap'), cell('Logs', logsButton));
        return tr;
      }];
    }));
    logs.setContainers(all.map((c) => c.name), p.containers[0]?.name);

    const events = [
      ...(p.instanceView?.events || []).map((e) => ({ ...e, of: 'group' })),
      ...all.flatMap((c) => (c.properties.instanceView?.events || []).map((e) => ({ ...e, of: c.name }))),
    ].sort((a, b) => String(a.firstTimestamp).localeCompare(String(b.firstTimestamp)));
    syncRows($('#g-events tbody'), events.map((e, i) => [`${i}`, JSON.stringify(e), () => {
      const tr = document.createElement('tr');
      tr.append(cell('Name', e.name, 'nowrap'), cell('Source', e.of), cell('Type', e.type, 'nowrap'),
        cell('Last seen', when(e.lastTimestamp)), cell('Count', String(e.count ?? 1), 'nowrap'), cell('Message', e.message));
      return tr;
    }]));
  }

  function goneNow() {
    gone = true;
    logs.stop();
    banner.textContent = `Container group ${name} no longer exists in resource group ${rg}.`;
    banner.hidden = false;
    for (const b of main.querySelectorAll('.toolbar button')) b.disabled = true;
  }

  const stopRefresh = every(REFRESH_MS, async () => {
    if (gone) return;
    try {
      group = await call('GET', path);
      if (banner.dataset.sticky !== 'yes') banner.hidden = true;
      fill(group);
    } catch (err) {
      if (err.status === 404) return goneNow();
      banner.textContent = `The group could not be refreshed: ${errorText(err)}`;
      banner.hidden = false;
    }
  });

  async function act(action, says) {
    banner.dataset.sticky = 'no';
    try {
      await call('POST', `${path}/${action}`);
      announce(says);
      if (action === 'restart' || action === 'start') logs.restartIfShown();
    } catch (err) {
      banner.textContent = errorText(err);
      banner.dataset.sticky = 'yes';
      banner.hidden = false;
    }
  }
  $('#g-restart').addEventListener('click', () => act('restart', `Restarting ${name}.`));
  $('#g-stop').addEventListener('click', () => act('stop', `Stopped ${name}.`));
  $('#g-start').addEventListener('click', () => act('start', `Starting ${name}.`));

  const dialog = document.getElementById('confirm-delete');
  $('#g-delete').addEventListener('click', () => {
    dialog.querySelector('.confirm-name').textContent = name;
    dialog.returnValue = '';
    dialog.showModal();
    dialog.addEventListener('close', async () => {
      if (dialog.returnValue !== 'delete') return $('#g-delete').focus();
      logs.stop();
      try {
        await call('DELETE', path);
        announce(`Deleted container group ${name}.`);
        window.location.hash = '#/';
      } catch (err) {
        banner.textContent = `${name} could not be deleted: ${errorText(err)}`;
        banner.dataset.sticky = 'yes';
        banner.hidden = false;
      }
    }, { once: true });
  });

  // The live figures are read only while the overview shows them.
  const stopMetrics = every(METRICS_MS, async () => {
    if (!gone && tab === 'overview') await readMetrics();
  });

  showTab(firstTab);
  return () => {
    stopRefresh();
    stopMetrics();
    logs.stop();
    if (dialog.open) dialog.close();
  };
}
