// The create view: ACI's quickstart steps (Basics, Networking, Advanced, Review + create)
// as one form. Checks what it can in the page (rules.js), turns the form into the ARM body
// of a container group, PUTs it, and shows an API error beside the field it names.

import { ApiError, call, groupPath, list, portal, resourceGroupsPath } from './api.js';
import * as rules from './rules.js';
import { announce, errorText, selectTab, tabKeys } from './ui.js';

const STEPS = ['basics', 'networking', 'advanced', 'review'];
/** The step each field sits on, to show an error where it can be seen. */
const STEP_OF = {
  resourceGroup: 'basics', name: 'basics', quickstartImage: 'basics', image: 'basics',
  cpu: 'basics', memory: 'basics', networkType: 'networking', dnsNameLabel: 'networking',
  scope: 'networking', ports: 'networking', restartPolicy: 'advanced', env: 'advanced',
  command: 'advanced', instanceReuse: 'advanced',
};

export function render(main) {
  const form = main.querySelector('#create-form');
  const $ = (sel) => main.querySelector(sel);
  const field = (key) => $(`#f-${key}`);
  let step = 'basics';
  let envCount = 0;

  // Basics: the subscription and region are the platform's; resource groups and images come
  // from the API and the config.
  field('subscription').value = portal.config.subscription;
  field('location').value = portal.config.location;
  for (const img of portal.config.quickstartImages) {
    const opt = document.createElement('option');
    opt.value = img.image;
    opt.textContent = img.image;
    field('quickstartImage').append(opt);
  }
  list(resourceGroupsPath()).then((groups) => {
    for (const rg of groups) {
      const opt = document.createElement('option');
      opt.value = rg.name;
      $('#rg-list').append(opt);
    }
    if (!field('resourceGroup').value && groups.length === 1) field('resourceGroup').value = groups[0].name;
  }).catch(() => { /* The datalist is a convenience; typing a name works without it. */ });

  const quickstart = () => form.elements.imageSource.value === 'quickstart';
  const imageKey = () => (quickstart() ? 'quickstartImage' : 'image');
  const chosenImage = () => portal.config.quickstartImages.find((i) => i.image === field('quickstartImage').value);

  function imageChanged() {
    const img = chosenImage();
    $('#f-quickstartImage-hint').textContent = img ? img.summary : '';
    // A service is opened on its port; a command needs none.
    if (img) {
      field('ports').value = img.port ? String(img.port) : '';
      form.elements.networkType.value = img.port ? 'Public' : 'None';
      networkChanged();
    }
  }
  function sourceChanged() {
    $('#quickstart-field').hidden = !quickstart();
    $('#image-field').hidden = quickstart();
  }
  function networkChanged() {
    const pub = form.elements.networkType.value === 'Public';
    field('dnsNameLabel').disabled = !pub;
    field('scope').disabled = !pub;
  }
  function previewFqdn() {
    const label = field('dnsNameLabel').value.trim() || '<label>';
    const hash = field('scope').value === 'Unsecure' ? '' : '<hash>.';
    $('.fqdn-preview').textContent = `${label}.${hash}${portal.config.location}.${portal.config.zone}`;
  }
  field('quickstartImage').addEventListener('change', imageChanged);
  for (const r of form.elements.imageSource) r.addEventListener('change', sourceChanged);
  for (const r of form.elements.networkType) r.addEventListener('change', networkChanged);
  field('dnsNameLabel').addEventListener('input', previewFqdn);
  field('scope').addEventListener('change', previewFqdn);
  imageChanged();
  sourceChanged();
  previewFqdn();

  // Environment variables: rows of name, value and whether the value is secret.
  function addEnvRow() {
    const row = document.getElementById('env-row').content.firstElementChild.cloneNode(true);
    const n = ++envCount;
    for (const [cls, label] of [['env-name', 'Name'], ['env-value', 'Value']]) {
      const input = row.querySelector(`.${cls}`);
      input.id = `${cls}-${n}`;
      input.previousElementSibling.htmlFor = input.id;
      input.previousElementSibling.textContent = `${label} of variable ${n}`;
    }
    row.querySelector('.env-remove').setAttribute('aria-label', `Remove variable ${n}`);
    row.querySelector('.env-remove').addEventListener('click', () => {
      row.remove();
      $('#env-add').focus();
    });
    $('#env-rows').append(row);
    row.querySelector('.env-name').focus();
  }
  $('#env-add').addEventListener('click', addEnvRow);

  // Steps: tabs, Previous and Next; the submit button reviews, then creates.
  function show(next) {
    step = next;
    selectTab(main, '[data-step]', (b) => b.dataset.step === step);
    for (const s of STEPS) $(`#step-${s}`).hidden = s !== step;
    $('#step-prev').disabled = step === STEPS[0];
    $('#step-next').hidden = step === 'review';
    $('#create-submit').textContent = step === 'review' ? 'Create' : 'Review + create';
    if (step === 'review') fillReview();
  }
  for (const tab of main.querySelectorAll('[data-step]')) {
    tab.addEventListener('click', () => show(tab.dataset.step));
    tab.addEventListener('keydown', (e) => tabKeys(e, main, '[data-step]'));
  }
  $('#step-prev').addEventListener('click', () => show(STEPS[Math.max(0, STEPS.indexOf(step) - 1)]));
  $('#step-next').addEventListener('click', () => show(STEPS[Math.min(STEPS.length - 1, STEPS.indexOf(step) + 1)]));

  /** Reads the form: `{rg, name, body}` and the page's own complaints by field. */
  function read() {
    const errors = {};
    const check = (key, message) => { if (message && !errors[key]) errors[key] = message; };
    const rg = field('resourceGroup').value.trim();
    const name = field('name').value.trim();
    check('resourceGroup', rules.resourceGroupName(rg));
    check('name', rules.groupName(name));
    const image = quickstart() ? field('quickstartImage').value : field('image').value.trim();
    check(imageKey(), rules.image(image));
    const [cpu, cpuError] = rules.amount(field('cpu').value, 'CPU cores', portal.config.maxCpu);
    const [memory, memoryError] = rules.amount(field('memory').value, 'Memory', portal.config.maxMemoryGb);
    check('cpu', cpuError);
    check('memory', memoryError);
    const [ports, portsError] = rules.ports(field('ports').value);
    check('ports', portsError);
    const pub = form.elements.networkType.value === 'Public';
    const label = field('dnsNameLabel').value.trim();
    if (pub) {
      check('dnsNameLabel', rules.dnsNameLabel(label));
      if (ports && ports.length === 0) check('ports', 'A public IP address needs at least one port.');
    }
    const env = [];
    for (const row of main.querySelectorAll('.env-row')) {
      const envName = row.querySelector('.env-name').value.trim();
      const value = row.querySelector('.env-value').value;
      if (!envName && !value) continue;
      check('env', rules.envName(envName));
      env.push(row.querySelector('.env-secure').checked ? { name: envName, secureValue: value } : { name: envName, value });
    }
    const [command, commandError] = rules.command(field('command').value);
    check('command', commandError);

    const containerProps = {
      image,
      command: command || [],
      ports: ports || [],
      environmentVariables: env,
      resources: { requests: { cpu, memoryInGB: memory } },
    };
    if (field('instanceReuse').checked) containerProps.instanceReuse = true;
    const props = {
      osType: 'Linux',
      restartPolicy: field('restartPolicy').value,
      containers: [{ name, properties: containerProps }],
    };
    if (pub) {
      props.ipAddress = { type: 'Public', ports: ports || [] };
      if (label) {
        props.ipAddress.dnsNameLabel = label;
        props.ipAddress.autoGeneratedDomainNameLabelScope = field('scope').value;
      }
    }
    return { rg, name, errors, body: { location: portal.config.location, properties: props } };
  }

  function fillReview() {
    const { rg, name, body } = read();
    const p = body.properties;
    const c = p.containers[0].properties;
    const rows = [
      ['Subscription', portal.config.subscription], ['Resource group', rg], ['Region', body.location],
      ['Container name', name], ['Image', c.image],
      ['Size', `${c.resources.requests.cpu ?? '?'} CPU cores, ${c.resources.requests.memoryInGB ?? '?'} GB memory`],
      ['Networking type', p.ipAddress ? 'Public' : 'None'],
      ['DNS name label', p.ipAddress?.dnsNameLabel ? `${p.ipAddress.dnsNameLabel} (${p.ipAddress.autoGeneratedDomainNameLabelScope})` : 'none'],
      ['Ports', c.ports.map((x) => `${x.port}/${x.protocol}`).join(', ') || 'none'],
      ['Restart policy', p.restartPolicy],
      ['Environment variables', c.environmentVariables.map((e) => e.name).join(', ') || 'none'],
      ['Command override', c.command.length ? JSON.stringify(c.command) : 'none'],
      ['Warm instance reuse', c.instanceReuse ? 'yes' : 'no'],
    ];
    const dl = $('#review');
    dl.replaceChildren();
    for (const [k, v] of rows) {
      const div = document.createElement('div');
      const dt = document.createElement('dt');
      const dd = document.createElement('dd');
      dt.textContent = k;
      dd.textContent = v;
      div.append(dt, dd);
      dl.append(div);
    }
  }

  function clearErrors() {
    $('#form-error').hidden = true;
    for (const el of main.querySelectorAll('.error[id^="f-"]')) el.textContent = '';
    for (const el of main.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  }

  /** Shows `message` beside the field `key`; the first one shown also gets the focus. */
  function showError(key, message, focus) {
    const target = key === 'env' ? main.querySelector('.env-name') || $('#env-add') : field(key) || form.elements[key]?.[0];
    const box = $(`#f-${key}-error`);
    if (!box) return false;
    box.textContent = message;
    if (target && target.setAttribute) target.setAttribute('aria-invalid', 'true');
    if (focus) {
      show(STEP_OF[key] || 'basics');
      target?.focus?.();
    }
    return true;
  }

  /** The form field an API error is about, from its code and the JSON path it names. */
  function keyOf(err) {
    if (err.code === 'InvalidResourceGroupName' || err.code === 'ResourceGroupNotFound') return 'resourceGroup';
    if (err.code === 'DnsNameLabelNotAvailable') return 'dnsNameLabel';
    if (err.code === 'ContainerGroupQuotaReached') return null;
    const f = err.field;
    if (!f) return null;
    const table = [
      [/^name$|^properties\.containers\[\d+\]\.name$/, 'name'],
      [/^properties\.ipAddress\.dnsNameLabel/, 'dnsNameLabel'],
      [/^properties\.ipAddress\.autoGeneratedDomainNameLabelScope/, 'scope'],
      [/^properties\.ipAddress\.type/, 'networkType'],
      [/^properties\.ipAddress/, 'ports'],
      [/\.properties\.image$/, imageKey()],
      [/\.properties\.ports/, 'ports'],
      [/\.cpu$/, 'cpu'],
      [/\.memoryInGB$/i, 'memory'],
      [/\.environmentVariables/, 'env'],
      [/\.properties\.command/, 'command'],
      [/^properties\.restartPolicy/, 'restartPolicy'],
      [/^properties\.containers$/, /memory/i.test(err.message) ? 'memory' : /CPU/.test(err.message) ? 'cpu' : null],
    ];
    const hit = table.find(([re]) => re.test(f));
    return hit ? hit[1] : null;
  }

  let busy = false;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (busy) return;
    clearErrors();
    const { rg, name, body, errors } = read();
    const keys = Object.keys(errors);
    if (keys.length) {
      keys.forEach((k, i) => showError(k, errors[k], i === 0));
      announce(`The form has ${keys.length === 1 ? 'a problem' : `${keys.length} problems`}: ${errors[keys[0]]}`);
      return;
    }
    if (step !== 'review') {
      show('review');
      $('#create-submit').focus();
      return;
    }
    busy = true;
    $('#create-submit').disabled = true;
    $('#create-submit').textContent = 'Creating…';
    try {
      await call('PUT', groupPath(rg, name), body);
      announce(`Container group ${name} is being created.`);
      window.location.hash = `#/groups/${encodeURIComponent(rg)}/${encodeURIComponent(name)}/overview`;
    } catch (err) {
      const key = err instanceof ApiError ? keyOf(err) : null;
      if (!(key && showError(key, err.plain, true))) {
        $('#form-error').textContent = errorText(err);
        $('#form-error').hidden = false;
        $('#form-error').focus();
      }
      announce(errorText(err));
    } finally {
      busy = false;
      $('#create-submit').disabled = false;
      if (step === 'review') $('#create-submit').textContent = 'Create';
    }
  });

  show('basics');
  field('resourceGroup').focus();
  return () => {};
}
