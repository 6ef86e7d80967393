//! Request parameters as RFC 6749 §3.1 reads them: `application/x-www-form-urlencoded`, a
//! parameter without a value is as if it were absent, and none may be given twice.

use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct Params {
    values: HashMap<String, String>,
    repeated: Vec<String>,
}

/// Why a parameter could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum ParamError {
    Malformed,
    Repeated(String),
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed => f.write_str("the parameters are not form-urlencoded"),
            Self::Repeated(name) => write!(f, "the parameter {name} is given more than once"),
        }
    }
}

impl Params {
    pub fn parse(encoded: &str) -> Result<Self, ParamError> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(encoded).map_err(|_| ParamError::Malformed)?;
        let mut params = Self::default();
        for (name, value) in pairs {
            if value.is_empty() {
                continue;
            }
            match params.values.entry(name) {
                std::collections::hash_map::Entry::Occupied(entry) => {
                    if !params.repeated.contains(entry.key()) {
                        params.repeated.push(entry.key().clone());
                    }
                }
                std::collections::hash_map::Entry::Vacant(entry) => {
                    entry.insert(value);
                }
            }
        }
        Ok(params)
    }

    /// The parameter's value; an error if it was given twice.
    pub fn get(&self, name: &str) -> Result<Option<&str>, ParamError> {
        if self.repeated.iter().any(|n| n == name) {
            return Err(ParamError::Repeated(name.to_owned()));
        }
        Ok(self.values.get(name).map(String::as_str))
    }

    /// The first parameter given twice, if any.
    pub fn first_repeated(&self) -> Option<&str> {
        self.repeated.first().map(String::as_str)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_are_absent_and_repeats_are_errors() {
        let p = Params::parse("a=1&b=&c=x+y%2Bz&a=2").unwrap();
        assert_eq!(p.get("b"), Ok(None));
        assert_eq!(p.get("c"), Ok(Some("x y+z")));
        assert_eq!(p.get("a"), Err(ParamError::Repeated("a".into())));
        assert_eq!(p.first_repeated(), Some("a"));
        assert!(!p.contains("b"));
        assert!(Params::parse("").unwrap().first_repeated().is_none());
    }
}
