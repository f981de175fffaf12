//! Session codes: 8 symbols of Crockford base32, shown as `ABCD-EFGH`.
//!
//! The first four symbols are the *nameplate*, allocated by the rendezvous; the last four are
//! the *secret*, generated on the helper's machine and never sent to any server. Entry is
//! forgiving because codes are read aloud: case, spaces and dashes are ignored, `O` means `0`
//! and `I`/`L` mean `1`.

use std::fmt;

use rand::rngs::OsRng;
use rand::Rng;

/// Crockford's alphabet: no I, L, O or U.
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Symbols in a nameplate and in a secret.
pub const PART_LEN: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("the code is empty")]
    Empty,
    #[error("a code has {expected} characters, this one has {found}")]
    WrongLength { expected: usize, found: usize },
    #[error("'{0}' cannot be part of a code")]
    InvalidSymbol(char),
}

/// Maps one typed character to its symbol value, applying the confusable rules.
/// Returns `Ok(None)` for separators that are ignored.
fn symbol_value(c: char) -> Result<Option<u8>, CodeError> {
    let upper = c.to_ascii_uppercase();
    let canonical = match upper {
        ' ' | '-' | '\t' | '_' => return Ok(None),
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    };
    ALPHABET
        .iter()
        .position(|&s| s as char == canonical)
        .map(|p| Some(p as u8))
        .ok_or(CodeError::InvalidSymbol(c))
}

fn parse_symbols<const N: usize>(input: &str) -> Result<[u8; N], CodeError> {
    let mut out = [0u8; N];
    let mut count = 0usize;
    for c in input.chars() {
        if let Some(v) = symbol_value(c)? {
            if count < N {
                out[count] = ALPHABET[v as usize];
            }
            count += 1;
        }
    }
    match count {
        0 => Err(CodeError::Empty),
        n if n != N => Err(CodeError::WrongLength {
            expected: N,
            found: n,
        }),
        _ => Ok(out),
    }
}

fn random_symbols<const N: usize>(rng: &mut impl Rng) -> [u8; N] {
    let mut out = [0u8; N];
    for s in &mut out {
        *s = ALPHABET[rng.gen_range(0..ALPHABET.len())];
    }
    out
}

macro_rules! code_part {
    ($name:ident, $what:literal) => {
        #[doc = concat!("The ", $what, " half of a session code: four canonical Crockford symbols.")]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; PART_LEN]);

        impl $name {
            /// Parses four symbols with the forgiving entry rules.
            pub fn parse(input: &str) -> Result<Self, CodeError> {
                parse_symbols::<PART_LEN>(input).map(Self)
            }

            pub fn as_str(&self) -> &str {
                // Only ASCII from ALPHABET is ever stored.
                std::str::from_utf8(&self.0).unwrap_or("????")
            }

            /// A uniformly random value from the given generator.
            pub fn random_with(rng: &mut impl Rng) -> Self {
                Self(random_symbols(rng))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = CodeError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

code_part!(Nameplate, "public");
code_part!(Secret, "secret");

impl fmt::Debug for Nameplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nameplate({})", self.as_str())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret by accident (logs, panics).
        f.write_str("Secret(****)")
    }
}

impl Nameplate {
    /// A random nameplate from the OS RNG (used by the rendezvous).
    pub fn random() -> Self {
        Self::random_with(&mut OsRng)
    }
}

impl Secret {
    /// A fresh secret from the OS RNG: 20 bits, one online guess per code.
    pub fn generate() -> Self {
        Self::random_with(&mut OsRng)
    }
}

/// A whole session code: nameplate + secret.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionCode {
    pub nameplate: Nameplate,
    pub secret: Secret,
}

impl SessionCode {
    pub fn new(nameplate: Nameplate, secret: Secret) -> Self {
        Self { nameplate, secret }
    }

    /// Parses what a person typed: `abcd efgh`, `ABCD-EFGH`, `abcdefgh`, with confusables.
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let symbols = parse_symbols::<{ 2 * PART_LEN }>(input)?;
        let mut nameplate = [0u8; PART_LEN];
        let mut secret = [0u8; PART_LEN];
        nameplate.copy_from_slice(&symbols[..PART_LEN]);
        secret.copy_from_slice(&symbols[PART_LEN..]);
        Ok(Self {
            nameplate: Nameplate(nameplate),
            secret: Secret(secret),
        })
    }
}

impl fmt::Display for SessionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.nameplate, self.secret)
    }
}

impl fmt::Debug for SessionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionCode({}-****)", self.nameplate)
    }
}

impl std::str::FromStr for SessionCode {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_table() {
        let ok: &[(&str, &str)] = &[
            ("ABCD-EFGH", "ABCD-EFGH"),
            ("abcd-efgh", "ABCD-EFGH"),
            ("abcdefgh", "ABCD-EFGH"),
            ("  ab cd  ef gh ", "ABCD-EFGH"),
            ("a-b-c-d-e-f-g-h", "ABCD-EFGH"),
            ("OOOO-oooo", "0000-0000"),
            ("IiLl-1111", "1111-1111"),
            ("0123-4567", "0123-4567"),
            ("89xy-ZzTs", "89XY-ZZTS"),
            ("wxyz\tvtsr", "WXYZ-VTSR"),
        ];
        for (input, want) in ok {
            let code = SessionCode::parse(input)
                .unwrap_or_else(|e| panic!("{input:?} should parse, got {e}"));
            assert_eq!(code.to_string(), *want, "input {input:?}");
        }

        let bad: &[(&str, CodeError)] = &[
            ("", CodeError::Empty),
            (" - - ", CodeError::Empty),
            (
                "ABCD-EFG",
                CodeError::WrongLength {
                    expected: 8,
                    found: 7,
                },
            ),
            (
                "ABCD-EFGHJ",
                CodeError::WrongLength {
                    expected: 8,
                    found: 9,
                },
            ),
            ("ABCD-EFGU", CodeError::InvalidSymbol('U')),
            ("abcd-efg!", CodeError::InvalidSymbol('!')),
            ("ABCD.EFGH", CodeError::InvalidSymbol('.')),
            ("ABCD-EFGÉ", CodeError::InvalidSymbol('É')),
        ];
        for (input, want) in bad {
            assert_eq!(
                SessionCode::parse(input).as_ref(),
                Err(want),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn halves_and_display() {
        let code = SessionCode::parse("q7k2-m9xp").expect("valid");
        assert_eq!(code.nameplate.as_str(), "Q7K2");
        assert_eq!(code.secret.as_str(), "M9XP");
        assert_eq!(Nameplate::parse("q7k2"), Ok(code.nameplate));
        assert!(!format!("{:?}", code.secret).contains("M9XP"));
        assert!(!format!("{code:?}").contains("M9XP"));
    }

    #[test]
    fn generated_secrets_use_the_whole_alphabet_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let s = Secret::generate();
            assert_eq!(Secret::parse(s.as_str()), Ok(s));
            seen.extend(s.as_str().bytes());
        }
        assert_eq!(seen.len(), 32, "every symbol should appear in 8000 draws");
    }
}
