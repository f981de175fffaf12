//! Session codes: 9 symbols of Crockford base32, shown as `ABC-DEF-GHJ` to be read aloud in
//! threes.
//!
//! The first four symbols are the *nameplate*, allocated by the rendezvous; the last five are
//! the *secret*, generated on the helper's machine and never sent to any server. Entry is
//! forgiving because codes are read aloud: case, spaces and dashes are ignored, `O` means `0`
//! and `I`/`L` mean `1`.
//!
//! **A typo never costs a code.** The secret is drawn so that a weighted sum over all nine
//! symbol values is 0 modulo 37: Σ (i+1)·vᵢ ≡ 0 (mod 37). 37 is prime and larger than any
//! difference of two symbol values (≤ 31), so changing one symbol (Δ = wᵢ·(a−b)), swapping
//! any two (Δ = (wᵢ−wⱼ)·(a−b), |wᵢ−wⱼ| ≤ 8) or doubling a wrong pair (`aa` → `bb`,
//! Δ = (wᵢ+wᵢ₊₁)·(a−b) ≤ 17·31) always breaks the sum, and [`SessionCode::parse`] says
//! [`CodeError::Mistyped`] on the sharer's machine before the rendezvous is asked — the
//! helper's code stays good.
//!
//! The check costs guessing strength only where it must: of the 32⁵ five-symbol strings, a
//! secret may be any of the 32⁴ first four symbols followed by the one fifth symbol the sum
//! asks for, when that value is below 32. Per nameplate that leaves 906 874 – 906 878 valid
//! secrets (counted exactly in the tests), so one online guess — all a code allows — succeeds
//! with probability ≤ 1.103 × 10⁻⁶, against 0.95 × 10⁻⁶ for the 4-symbol secret without a
//! check, and well under the 10⁻⁵ the product promises.

use std::fmt;

use rand::rngs::OsRng;
use rand::Rng;

/// Crockford's alphabet: no I, L, O or U.
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Symbols in a nameplate.
pub const NAMEPLATE_LEN: usize = 4;
/// Symbols in a secret (four free, and one the check decides).
pub const SECRET_LEN: usize = 5;
/// Symbols in a whole code.
pub const CODE_LEN: usize = NAMEPLATE_LEN + SECRET_LEN;
/// Symbols per group when a code is shown (`ABC-DEF-GHJ`).
const GROUP_LEN: usize = 3;

/// The check's modulus: prime, and above every difference of two symbol values.
const CHECK_MODULUS: u32 = 37;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("the code is empty")]
    Empty,
    #[error("a code has {expected} characters, this one has {found}")]
    WrongLength { expected: usize, found: usize },
    #[error("'{0}' cannot be part of a code")]
    InvalidSymbol(char),
    /// Every symbol is valid but the code's check does not hold: one was misheard or
    /// mistyped, or two were swapped. Found locally; nothing was sent anywhere.
    #[error("the code does not add up: a symbol is wrong or two are swapped")]
    Mistyped,
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
    u8::try_from(canonical)
        .ok()
        .and_then(|b| VALUES.get(usize::from(b)).copied().flatten())
        .map(Some)
        .ok_or(CodeError::InvalidSymbol(c))
}

/// Each ASCII byte's symbol value, if it is a canonical symbol.
const VALUES: [Option<u8>; 128] = {
    let mut table = [None; 128];
    let mut v = 0;
    while v < ALPHABET.len() {
        table[ALPHABET[v] as usize] = Some(v as u8);
        v += 1;
    }
    table
};

/// The symbols' values (0..32), read with the forgiving entry rules.
fn parse_values<const N: usize>(input: &str) -> Result<[u8; N], CodeError> {
    let mut out = [0u8; N];
    let mut count = 0usize;
    for c in input.chars() {
        if let Some(v) = symbol_value(c)? {
            if count < N {
                out[count] = v;
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

fn symbols<const N: usize>(values: [u8; N]) -> [u8; N] {
    values.map(|v| ALPHABET[usize::from(v & 31)])
}

/// The value of a canonical symbol (one from [`ALPHABET`]).
fn value_of(symbol: u8) -> u8 {
    ALPHABET.iter().position(|&s| s == symbol).unwrap_or(0) as u8
}

/// Σ (i+1)·vᵢ mod 37 over the given symbol values, position `first` onwards.
fn weighted_sum(values: &[u8], first: usize) -> u32 {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| (first + i + 1) as u32 * u32::from(v))
        .sum::<u32>()
        % CHECK_MODULUS
}

/// The inverse of the last symbol's weight modulo 37 (9 · 33 = 297 = 8 · 37 + 1).
const LAST_WEIGHT_INVERSE: u32 = 33;
const _: () = assert!((CODE_LEN as u32 * LAST_WEIGHT_INVERSE) % CHECK_MODULUS == 1);

/// The value the last symbol must have for the check to hold, given the first eight
/// symbols' weighted sum; `None` when that value is no symbol (32..37).
fn completing_value(sum_of_first: u32) -> Option<u8> {
    let needed = (CHECK_MODULUS - sum_of_first % CHECK_MODULUS) % CHECK_MODULUS;
    let value = needed * LAST_WEIGHT_INVERSE % CHECK_MODULUS;
    u8::try_from(value).ok().filter(|&v| v < 32)
}

/// The public half of a session code: four canonical Crockford symbols.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nameplate([u8; NAMEPLATE_LEN]);

impl Nameplate {
    /// Parses four symbols with the forgiving entry rules.
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        parse_values::<NAMEPLATE_LEN>(input).map(|v| Self(symbols(v)))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII from ALPHABET is ever stored.
        std::str::from_utf8(&self.0).unwrap_or("????")
    }

    /// A uniformly random nameplate from the given generator.
    pub fn random_with(rng: &mut impl Rng) -> Self {
        Self(std::array::from_fn(|_| {
            ALPHABET[rng.gen_range(0..ALPHABET.len())]
        }))
    }

    /// A random nameplate from the OS RNG (used by the rendezvous).
    pub fn random() -> Self {
        Self::random_with(&mut OsRng)
    }
}

impl fmt::Display for Nameplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Nameplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nameplate({})", self.as_str())
    }
}

impl std::str::FromStr for Nameplate {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The secret half of a session code: five canonical Crockford symbols that, with their
/// nameplate, satisfy the code's check. Only [`SessionCode`] makes one.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Secret([u8; SECRET_LEN]);

impl Secret {
    pub fn as_str(&self) -> &str {
        // Only ASCII from ALPHABET is ever stored.
        std::str::from_utf8(&self.0).unwrap_or("?????")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret by accident (logs, panics).
        f.write_str("Secret(*****)")
    }
}

/// A whole session code: nameplate + secret, whose check holds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionCode {
    nameplate: Nameplate,
    secret: Secret,
}

impl SessionCode {
    /// A fresh code for a nameplate the rendezvous allocated, its secret from the OS RNG.
    pub fn generate(nameplate: Nameplate) -> Self {
        Self::generate_with(nameplate, &mut OsRng)
    }

    /// A code for `nameplate` whose secret is uniform over the secrets the check allows:
    /// the first four symbols are drawn until the fifth the check asks for exists (32 of
    /// 37 times), so every valid secret is exactly one accepted draw.
    pub fn generate_with(nameplate: Nameplate, rng: &mut impl Rng) -> Self {
        let nameplate_sum = weighted_sum(&nameplate.0.map(value_of), 0);
        loop {
            let free: [u8; SECRET_LEN - 1] = std::array::from_fn(|_| rng.gen_range(0..32));
            let sum = nameplate_sum + weighted_sum(&free, NAMEPLATE_LEN);
            if let Some(last) = completing_value(sum) {
                let mut secret = [0u8; SECRET_LEN];
                secret[..SECRET_LEN - 1].copy_from_slice(&free);
                secret[SECRET_LEN - 1] = last;
                return Self {
                    nameplate,
                    secret: Secret(symbols(secret)),
                };
            }
        }
    }

    /// Parses what a person typed — `abc def ghj`, `ABC-DEF-GHJ`, `abcdefghj`, with
    /// confusables — and checks it: a misheard symbol or a swapped pair is
    /// [`CodeError::Mistyped`], found here, before anything is sent.
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let values = parse_values::<CODE_LEN>(input)?;
        if weighted_sum(&values, 0) != 0 {
            return Err(CodeError::Mistyped);
        }
        let all = symbols(values);
        let mut nameplate = [0u8; NAMEPLATE_LEN];
        let mut secret = [0u8; SECRET_LEN];
        nameplate.copy_from_slice(&all[..NAMEPLATE_LEN]);
        secret.copy_from_slice(&all[NAMEPLATE_LEN..]);
        Ok(Self {
            nameplate: Nameplate(nameplate),
            secret: Secret(secret),
        })
    }

    /// The public half, which the rendezvous knows.
    pub fn nameplate(&self) -> &Nameplate {
        &self.nameplate
    }

    /// The half that never leaves the two machines.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }
}

impl fmt::Display for SessionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all = self.nameplate.0.iter().chain(self.secret.0.iter());
        for (i, &symbol) in all.enumerate() {
            if i > 0 && i % GROUP_LEN == 0 {
                f.write_str("-")?;
            }
            write!(f, "{}", symbol as char)?;
        }
        Ok(())
    }
}

impl fmt::Debug for SessionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionCode({}-*****)", self.nameplate)
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
    use rand::SeedableRng;

    #[test]
    fn parsing_table() {
        let ok: &[(&str, &str)] = &[
            ("ABC-DEF-GH3", "ABC-DEF-GH3"),
            ("abc-def-gh3", "ABC-DEF-GH3"),
            ("abcdefgh3", "ABC-DEF-GH3"),
            ("ABCD-EFGH3", "ABC-DEF-GH3"),
            ("  ab cd  ef gh 3 ", "ABC-DEF-GH3"),
            ("a-b-c-d-e-f-g-h-3", "ABC-DEF-GH3"),
            ("OOO-ooo-000", "000-000-000"),
            ("012-345-676", "012-345-676"),
            ("OI2-345-676", "012-345-676"),
            ("89x-yzz-tsd", "89X-YZZ-TSD"),
            ("wxy\tzvt sRn", "WXY-ZVT-SRN"),
            ("q7k-2m9-xpr", "Q7K-2M9-XPR"),
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
                "ABC-DEF-GH",
                CodeError::WrongLength {
                    expected: 9,
                    found: 8,
                },
            ),
            (
                "ABC-DEF-GH3J",
                CodeError::WrongLength {
                    expected: 9,
                    found: 10,
                },
            ),
            ("ABC-DEF-GHU", CodeError::InvalidSymbol('U')),
            ("abc-def-gh!", CodeError::InvalidSymbol('!')),
            ("ABC.DEF.GH3", CodeError::InvalidSymbol('.')),
            ("ABC-DEF-GHÉ", CodeError::InvalidSymbol('É')),
            // One symbol misheard, two swapped, and the old eight-symbol shape plus one.
            ("ABC-DEF-GH4", CodeError::Mistyped),
            ("ABC-DEF-HG3", CodeError::Mistyped),
            ("BAC-DEF-GH3", CodeError::Mistyped),
            ("ABC-0EF-GH3", CodeError::Mistyped),
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
        let code = SessionCode::parse("q7k2-m9xpr").expect("valid");
        assert_eq!(code.nameplate().as_str(), "Q7K2");
        assert_eq!(code.secret().as_str(), "M9XPR");
        assert_eq!(code.to_string(), "Q7K-2M9-XPR");
        assert_eq!(Nameplate::parse("q7k2"), Ok(*code.nameplate()));
        assert!(!format!("{:?}", code.secret()).contains("M9XPR"));
        assert!(!format!("{code:?}").contains("M9XPR"));
    }

    /// The promise: any one wrong symbol and any swap of two different neighbours in
    /// 10 000 random codes is caught by `parse`, which has no I/O at all — so a typo
    /// never reaches the rendezvous and never spends the code's one guess.
    #[test]
    fn every_single_typo_and_neighbour_swap_of_10000_codes_is_caught_locally() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x7A_4D_E3);
        let (mut typos, mut swaps) = (0u32, 0u32);
        for _ in 0..10_000 {
            let code = SessionCode::generate_with(Nameplate::random_with(&mut rng), &mut rng);
            assert_eq!(SessionCode::parse(&code.to_string()), Ok(code));
            let right: [u8; CODE_LEN] = std::array::from_fn(|at| code_symbol(&code, at));
            let parse = |typed: &[u8; CODE_LEN]| {
                SessionCode::parse(std::str::from_utf8(typed).expect("ascii"))
            };
            for at in 0..CODE_LEN {
                for &other in ALPHABET.iter().filter(|&&s| s != right[at]) {
                    let mut typed = right;
                    typed[at] = other;
                    typos += 1;
                    assert_eq!(
                        parse(&typed),
                        Err(CodeError::Mistyped),
                        "{code} as {typed:?}"
                    );
                }
                if at + 1 < CODE_LEN && right[at] != right[at + 1] {
                    let mut typed = right;
                    typed.swap(at, at + 1);
                    swaps += 1;
                    assert_eq!(
                        parse(&typed),
                        Err(CodeError::Mistyped),
                        "{code} as {typed:?}"
                    );
                }
            }
        }
        assert_eq!(typos, 10_000 * 9 * 31);
        assert!(swaps > 10_000 * 8 * 9 / 10, "{swaps} swaps tried");
    }

    fn code_symbol(code: &SessionCode, at: usize) -> u8 {
        code.nameplate
            .0
            .iter()
            .chain(&code.secret.0)
            .nth(at)
            .copied()
            .unwrap_or(0)
    }

    /// The guessing strength, counted exactly: for every residue the nameplate can add to
    /// the sum, how many five-symbol secrets pass the check. One online guess succeeds with
    /// probability 1 / that count.
    #[test]
    fn a_guess_succeeds_at_most_once_in_906874() {
        let mut by_residue = [0u32; CHECK_MODULUS as usize];
        for free in 0..32u32.pow(4) {
            let digits = [free >> 15, (free >> 10) & 31, (free >> 5) & 31, free & 31];
            let sum: u32 = digits
                .iter()
                .enumerate()
                .map(|(i, d)| (5 + i as u32) * d)
                .sum();
            by_residue[(sum % CHECK_MODULUS) as usize] += 1;
        }
        let valid_secrets: Vec<u32> = (0..CHECK_MODULUS)
            .map(|nameplate_sum| {
                (0..CHECK_MODULUS)
                    .filter(|free_sum| completing_value(nameplate_sum + free_sum).is_some())
                    .map(|free_sum| by_residue[free_sum as usize])
                    .sum()
            })
            .collect();
        let fewest = valid_secrets.iter().copied().min().expect("37 residues");
        let most = valid_secrets.iter().copied().max().expect("37 residues");
        assert_eq!(
            (fewest, most),
            (906_874, 906_878),
            "as the module documents"
        );
        assert!(1.0 / f64::from(fewest) <= 1.0 / 100_000.0);
    }

    #[test]
    fn generated_codes_check_out_and_use_the_whole_alphabet_everywhere() {
        let mut seen = [[false; 32]; CODE_LEN];
        let nameplate = Nameplate::parse("Q7K2").expect("nameplate");
        for _ in 0..4000 {
            let code = SessionCode::generate(nameplate);
            assert_eq!(SessionCode::parse(&code.to_string()), Ok(code));
            assert_eq!(*code.nameplate(), nameplate);
            for (at, seen) in seen.iter_mut().enumerate().skip(NAMEPLATE_LEN) {
                seen[usize::from(value_of(code_symbol(&code, at)))] = true;
            }
        }
        for (at, seen) in seen.iter().enumerate().skip(NAMEPLATE_LEN) {
            assert!(
                seen.iter().all(|&s| s),
                "position {at} should take every symbol"
            );
        }
    }
}
