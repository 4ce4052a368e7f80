// ACI's rules for what a user types, checked in the page so mistakes show before a round
// trip. The API checks all of them again and is the authority: its message, when it
// differs, is what the form shows. Each check answers an error message or null.

export function resourceGroupName(v) {
  if (!v) return 'Enter a resource group, or pick one.';
  const ok = v.length <= 90 && !v.endsWith('.') && /^[\p{L}\p{N}_\-.()]+$/u.test(v);
  return ok ? null : `Resource group name '${v}' is invalid. It can contain letters, digits, underscores, hyphens, periods and parentheses, may not end in a period, and must be 1 to 90 characters long.`;
}

export function groupName(v) {
  if (!v) return 'Enter a name.';
  const ok = v.length <= 63 && /^[a-z0-9-]+$/.test(v) && !v.startsWith('-') && !v.endsWith('-') && !v.includes('--');
  return ok ? null : `The name '${v}' is invalid. It can contain only lowercase letters, numbers and hyphens, cannot start or end with a hyphen or hold two hyphens in a row, and must be 1 to 63 characters long.`;
}

export function dnsNameLabel(v) {
  if (!v) return null;
  const ok = /^[a-z][a-z0-9-]{3,61}[a-z0-9]$/.test(v);
  return ok ? null : `The DNS name label '${v}' is invalid. It can contain only lowercase letters, numbers and hyphens; the first character must be a letter and the last a letter or number; it must be 5 to 63 characters long.`;
}

export function image(v) {
  return v ? null : 'Enter an image: waci/<name> or the path of a .wasm component.';
}

/** A positive number up to `max`; answers [value, error]. */
export function amount(v, what, max) {
  const n = Number(v);
  if (v === '' || !Number.isFinite(n) || n <= 0) return [null, `${what} must be a number greater than 0.`];
  if (n > max) return [null, `${what} can be at most ${max} for one container group.`];
  return [n, null];
}

/** `80, 8080/udp` → [[{port, protocol}], error]. */
export function ports(text) {
  const out = [];
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d{1,5})(?:\/(tcp|udp))?$/i.exec(part);
    const port = m ? Number(m[1]) : NaN;
    if (!m || port < 1 || port > 65535) {
      return [null, `'${part}' is not a port: ports are whole numbers from 1 to 65535, optionally followed by /tcp or /udp.`];
    }
    const protocol = (m[2] || 'tcp').toUpperCase();
    if (out.some((p) => p.port === port && p.protocol === protocol)) {
      return [null, `Port ${port} is listed twice.`];
    }
    out.push({ port, protocol });
  }
  return [out, null];
}

export function envName(v) {
  const ok = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(v);
  return ok ? null : `The environment variable name '${v}' is invalid. It can contain only letters, digits and underscores, may not start with a digit, and must be 1 to 63 characters long.`;
}

/** A command line: a JSON array of strings, or words separated by spaces. */
export function command(text) {
  const t = text.trim();
  if (!t) return [[], null];
  if (t.startsWith('[')) {
    try {
      const v = JSON.parse(t);
      if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return [v, null];
    } catch {
      // Fall through to the message below.
    }
    return [null, 'A command in brackets must be a JSON array of strings: ["--lines", "5"].'];
  }
  return [t.split(/\s+/), null];
}
