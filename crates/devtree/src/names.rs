//! The naming rules dtc checks (dtc `checks.c`: `NODECHARS`, `PROPCHARS`,
//! `check_node_name_format`). Names that break them are reported, not refused: libfdt reads
//! such blobs and so do we.

fn bad_char(name: &str, allowed: impl Fn(u8) -> bool) -> Option<char> {
    name.chars().find(|&c| !(c.is_ascii() && allowed(c as u8)))
}

/// Node names: letters, digits and `,._+-`, then at most one `@` with a unit address.
pub(crate) fn check_node_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty node name".to_owned());
    }
    if let Some(c) = bad_char(name, |b| {
        b.is_ascii_alphanumeric() || b",._+-@".contains(&b)
    }) {
        return Err(format!("character {c:?} is not allowed in a node name"));
    }
    if name.matches('@').count() > 1 {
        return Err("more than one '@' in the node name".to_owned());
    }
    Ok(())
}

/// Property names: letters, digits and `,._+*#?-`.
pub(crate) fn check_property_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty property name".to_owned());
    }
    if let Some(c) = bad_char(name, |b| {
        b.is_ascii_alphanumeric() || b",._+*#?-".contains(&b)
    }) {
        return Err(format!("character {c:?} is not allowed in a property name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names() {
        assert!(check_node_name("unknown-bridge@0,1").is_ok());
        assert!(check_node_name("PowerPC,POWER9@0").is_ok());
        assert!(check_node_name("sub$node").unwrap_err().contains("'$'"));
        assert!(
            check_node_name("subnode@1@2")
                .unwrap_err()
                .contains("more than one")
        );
        assert!(check_node_name("").is_err());
    }

    #[test]
    fn property_names() {
        assert!(check_property_name("#address-cells").is_ok());
        assert!(check_property_name("linux,phandle").is_ok());
        assert!(
            check_property_name("prop$erty")
                .unwrap_err()
                .contains("'$'")
        );
        assert!(check_property_name("a@b").is_err());
    }
}
