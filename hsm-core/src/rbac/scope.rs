//! Scopes: where a role assignment applies, and where an operation acts.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::names::validate_key_name;

/// Where a role assignment applies, and where an operation acts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Scope {
    /// `/`: everything in the pool.
    All,
    /// `/keys`: every key.
    Keys,
    /// `/keys/{name}`: one key (by name, whether or not it exists yet).
    Key(String),
}

impl Scope {
    /// Parses `/`, `/keys` or `/keys/{name}`.
    pub fn parse(s: &str) -> Result<Scope> {
        match s {
            "/" => Ok(Scope::All),
            "/keys" => Ok(Scope::Keys),
            _ => match s.strip_prefix("/keys/") {
                Some(name) if validate_key_name(name).is_ok() => Ok(Scope::Key(name.to_string())),
                _ => Err(Error::bad_parameter(format!(
                    "invalid scope '{s}': use '/', '/keys' or '/keys/{{key name}}'"
                ))),
            },
        }
    }

    /// The scope of one key (its name checked).
    pub fn key(name: &str) -> Result<Scope> {
        validate_key_name(name)?;
        Ok(Scope::Key(name.to_string()))
    }

    /// Does an assignment at `self` apply to an operation at `target`?
    pub fn covers(&self, target: &Scope) -> bool {
        match (self, target) {
            (Scope::All, _) => true,
            (Scope::Keys, Scope::Keys | Scope::Key(_)) => true,
            (Scope::Key(a), Scope::Key(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::All => f.write_str("/"),
            Scope::Keys => f.write_str("/keys"),
            Scope::Key(name) => write!(f, "/keys/{name}"),
        }
    }
}

impl TryFrom<String> for Scope {
    type Error = Error;
    fn try_from(s: String) -> Result<Scope> {
        Scope::parse(&s)
    }
}

impl From<Scope> for String {
    fn from(s: Scope) -> String {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Scope {
        Scope::key(name).unwrap()
    }

    #[test]
    fn scopes() {
        assert_eq!(Scope::parse("/").unwrap(), Scope::All);
        assert_eq!(Scope::parse("/keys").unwrap(), Scope::Keys);
        assert_eq!(Scope::parse("/keys/k-1").unwrap(), key("k-1"));
        for bad in [
            "",
            "keys",
            "/keys/",
            "/keys/a/b",
            "/secrets",
            "/keys/a_b",
            "//",
        ] {
            assert!(
                matches!(Scope::parse(bad), Err(Error::BadParameter { .. })),
                "{bad}"
            );
        }
        for s in [Scope::All, Scope::Keys, key("k")] {
            assert_eq!(Scope::parse(&s.to_string()).unwrap(), s);
        }
        let (all, keys, k, other) = (Scope::All, Scope::Keys, key("k"), key("other"));
        assert!(all.covers(&all) && all.covers(&keys) && all.covers(&k));
        assert!(!keys.covers(&all) && keys.covers(&keys) && keys.covers(&k));
        assert!(!k.covers(&all) && !k.covers(&keys) && k.covers(&k) && !k.covers(&other));
        // Key names are compared as the core compares them: exactly.
        assert!(!k.covers(&key("K")));
    }
}
