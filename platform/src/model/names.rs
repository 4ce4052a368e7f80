//! ACI's naming rules and the FQDN a DNS name label gets (DESIGN.md §5).
//! Pure functions, tested by table below.

use super::DnsScope;
use sha2::{Digest, Sha256};

/// Container group and container names: 1–63, lowercase letters, digits and hyphens, no
/// hyphen first or last; group names may not hold `--` either.
pub fn check_resource_name(name: &str, is_group: bool) -> Result<(), String> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if name.is_empty()
        || name.len() > 63
        || !ok_chars
        || name.starts_with('-')
        || name.ends_with('-')
        || (is_group && name.contains("--"))
    {
        return Err(format!(
            "The name '{name}' is invalid. It can contain only lowercase letters, numbers and hyphens, \
             cannot start or end with a hyphen{}, and must be 1 to 63 characters long.",
            if is_group {
                " or hold two hyphens in a row"
            } else {
                ""
            }
        ));
    }
    Ok(())
}

/// Resource group names, as ARM allows them: 1–90 of letters, digits, `_ - . ( )`, not
/// ending in a period.
pub fn check_resource_group_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 90
        && !name.ends_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '(' | ')'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "Resource group name '{name}' is invalid. It can contain letters, digits, underscores, \
             hyphens, periods and parentheses, may not end in a period, and must be 1 to 90 characters long."
        ))
    }
}

/// DNS name labels: 5–63, lowercase letters, digits and hyphens, first a letter, last a
/// letter or digit.
pub fn check_dns_label(label: &str) -> Result<(), String> {
    let b = label.as_bytes();
    let ok = (5..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0].is_ascii_lowercase()
        && b[b.len() - 1] != b'-';
    if ok {
        Ok(())
    } else {
        Err(format!(
            "The DNS name label '{label}' is invalid. It can contain only lowercase letters, numbers and \
             hyphens; the first character must be a letter and the last a letter or number; it must be \
             5 to 63 characters long."
        ))
    }
}

/// Environment variable names: 1–63 letters, digits and `_`, not starting with a digit.
pub fn check_env_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "The environment variable name '{name}' is invalid. It can contain only letters, digits and \
             underscores, may not start with a digit, and must be 1 to 63 characters long."
        ))
    }
}

/// Volume names: 1–63 lowercase letters, digits and hyphens (ACI documents 5–63 for some
/// volume kinds; we take the container-name rule so short names like `data` work).
pub fn check_volume_name(name: &str) -> Result<(), String> {
    check_resource_name(name, false)
        .map_err(|_| format!("The volume name '{name}' is invalid. It can contain only lowercase letters, numbers and hyphens, cannot start or end with a hyphen, and must be 1 to 63 characters long."))
}

/// The ids that a reuse scope hashes in (DESIGN.md §5).
pub struct LabelScopeIds<'a> {
    pub tenant: &'a str,
    pub subscription: &'a str,
    pub resource_group: &'a str,
}

/// The FQDN of `label` under `scope`. `Noreuse` takes a random value in `nonce`, which the
/// caller keeps so the name is stable for the group's life.
pub fn fqdn(
    label: &str,
    scope: DnsScope,
    ids: &LabelScopeIds<'_>,
    nonce: &str,
    location: &str,
    zone: &str,
) -> String {
    let seed = match scope {
        DnsScope::Unsecure => return format!("{label}.{location}.{zone}"),
        DnsScope::TenantReuse => format!("tenant\0{}", ids.tenant),
        DnsScope::SubscriptionReuse => {
            format!("subscription\0{}\0{}", ids.tenant, ids.subscription)
        }
        DnsScope::ResourceGroupReuse => format!(
            "resourcegroup\0{}\0{}\0{}",
            ids.tenant,
            ids.subscription,
            ids.resource_group.to_ascii_lowercase()
        ),
        DnsScope::Noreuse => format!("noreuse\0{nonce}"),
    };
    let digest = Sha256::digest(format!("{seed}\0{label}").as_bytes());
    format!("{label}.{}.{location}.{zone}", base32_lower(&digest[..5]))
}

/// RFC 4648 base32, lowercase, no padding: 5 bytes → 8 characters.
fn base32_lower(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::new();
    let mut buffer: u64 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | b as u64;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: fn(&str) -> Result<(), String>, input: &str, ok: bool) {
        assert_eq!(f(input).is_ok(), ok, "{input:?}");
    }

    #[test]
    fn dns_labels_follow_aci() {
        for (label, ok) in [
            ("myapp", true),
            ("my-app-1", true),
            ("abcd", false),
            ("1abcd", false),
            ("abcd-", false),
            ("MyApp", false),
            ("my_app", false),
            (&"a".repeat(63), true),
            (&"a".repeat(64), false),
        ] {
            check(check_dns_label, label, ok);
        }
    }

    #[test]
    fn group_names_follow_aci() {
        let group = |n: &str| check_resource_name(n, true);
        for (name, ok) in [
            ("web", true),
            ("a", true),
            ("web-1", true),
            ("-web", false),
            ("web-", false),
            ("we--b", false),
            ("Web", false),
            ("web_1", false),
            ("", false),
        ] {
            check(group, name, ok);
        }
        assert!(check_resource_name("we--b", false).is_ok());
    }

    #[test]
    fn env_names() {
        for (name, ok) in [
            ("PATH", true),
            ("a_b1", true),
            ("1A", false),
            ("A-B", false),
            ("", false),
        ] {
            check(check_env_name, name, ok);
        }
    }

    #[test]
    fn fqdn_shapes_and_stability() {
        let ids = LabelScopeIds {
            tenant: "t",
            subscription: "s1",
            resource_group: "rg",
        };
        assert_eq!(
            fqdn(
                "myapp",
                DnsScope::Unsecure,
                &ids,
                "",
                "local",
                "waci.localhost"
            ),
            "myapp.local.waci.localhost"
        );
        let a = fqdn("myapp", DnsScope::TenantReuse, &ids, "", "local", "z");
        let b = fqdn("myapp", DnsScope::TenantReuse, &ids, "", "local", "z");
        assert_eq!(a, b);
        let hash = a.split('.').nth(1).unwrap();
        assert_eq!(hash.len(), 8);
        assert!(
            hash.bytes()
                .all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c))
        );
        let other = LabelScopeIds {
            subscription: "s2",
            ..ids
        };
        assert_ne!(
            fqdn("myapp", DnsScope::SubscriptionReuse, &ids, "", "local", "z"),
            fqdn(
                "myapp",
                DnsScope::SubscriptionReuse,
                &other,
                "",
                "local",
                "z"
            )
        );
        assert_eq!(
            fqdn("myapp", DnsScope::TenantReuse, &ids, "", "local", "z"),
            fqdn("myapp", DnsScope::TenantReuse, &other, "", "local", "z")
        );
        assert_ne!(
            fqdn("myapp", DnsScope::Noreuse, &ids, "n1", "local", "z"),
            fqdn("myapp", DnsScope::Noreuse, &ids, "n2", "local", "z")
        );
    }
}
