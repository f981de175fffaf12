//! Files between the two peers: the names a file may arrive under, and the head and tail of
//! a [`StreamKind::File`](crate::protocol::StreamKind::File) stream.
//!
//! A file crosses only after the receiving person (or, for a file the helper asked for, the
//! helper's own request) accepted its offer, announced on the control stream. Its stream is
//! then: the kind byte, the offer's id (u32) and size (u64), big endian; exactly `size`
//! bytes; the SHA-256 of those bytes (32 bytes); the end of the stream.

use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

use crate::protocol::StreamKind;

/// Longest name a file may have, in UTF-8 bytes: under most file systems' 255, leaving
/// room for the ` (n)` a copy is numbered with.
pub const MAX_FILE_NAME: usize = 240;

/// The bytes after the kind byte: id and size.
pub const FILE_HEAD_LEN: usize = 4 + 8;

/// The SHA-256 that follows the file's bytes.
pub const FILE_DIGEST_LEN: usize = 32;

/// Why a name is not one a file may be saved under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadFileName {
    #[error("the name is empty")]
    Empty,
    #[error("the name is longer than {MAX_FILE_NAME} bytes")]
    TooLong,
    /// `/`, `\`, or a drive letter's `:` — it would reach outside the folder.
    #[error("the name is a path")]
    Path,
    /// `.` or `..`, or a hidden name (starting with a dot).
    #[error("the name is hidden or a folder reference")]
    Dots,
    /// Control characters, and the invisible ones that disguise a name (right-to-left
    /// overrides make `invoice\u{202E}fdp.exe` read as `invoiceexe.pdf`).
    #[error("the name has invisible or control characters")]
    Invisible,
    /// A character Windows does not allow in names (`<>:"|?*`), or a trailing dot or space.
    #[error("the name has characters Windows does not allow")]
    NotPortable,
    /// Spaces other than one ASCII space at a time: padding pushes a second extension out
    /// of sight (`invoice.pdf          .exe`).
    #[error("the name has runs of spaces or unusual spaces")]
    Padded,
    /// `CON`, `NUL`, `COM1`… (with any extension): devices on Windows, not files.
    #[error("the name is reserved on Windows")]
    Reserved,
}

/// Characters that are invisible or change how the rest of a name reads.
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' // soft hyphen
            | '\u{061C}' // Arabic letter mark
            | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers
            | '\u{034F}' // combining grapheme joiner
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}' // zero widths, LRM, RLM
            | '\u{2028}' | '\u{2029}' // line and paragraph separators
            | '\u{202A}'..='\u{202E}' // embeddings and overrides
            | '\u{2060}'..='\u{206F}' // word joiner, isolates, deprecated formats
            | '\u{FE00}'..='\u{FE0F}' // variation selectors
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{1D173}'..='\u{1D17A}' // musical formatting
            | '\u{E0100}'..='\u{E01EF}' // variation selectors supplement
            | '\u{E0000}'..='\u{E007F}' // tags
        )
}

const NOT_ON_WINDOWS: &[char] = &['<', '>', ':', '"', '|', '?', '*'];

/// Spaces that are not the ASCII space (no-break, ideographic, the typographic widths).
fn odd_space(c: char) -> bool {
    c != ' ' && c.is_whitespace()
}

fn reserved_on_windows(name: &str) -> bool {
    // The device name is what comes before the first dot, trailing spaces ignored.
    let stem = name.split('.').next().unwrap_or(name).trim_end();
    let upper = stem.to_ascii_uppercase();
    match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$" => true,
        _ => {
            let (Some(head), Some(tail)) = (upper.get(..3), upper.get(3..)) else {
                return false;
            };
            (head == "COM" || head == "LPT")
                && tail.chars().count() == 1
                && tail
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '¹' | '²' | '³'))
        }
    }
}

/// Whether `name` may be used as it is for a file saved in the receive folder, on any
/// platform. The receiver refuses any other name: an honest sender sends
/// [`clean_file_name`]'s, so only a hostile one is refused.
pub fn check_file_name(name: &str) -> Result<(), BadFileName> {
    if name.is_empty() {
        return Err(BadFileName::Empty);
    }
    if name.len() > MAX_FILE_NAME {
        return Err(BadFileName::TooLong);
    }
    if name.contains(['/', '\\']) {
        return Err(BadFileName::Path);
    }
    if name.chars().any(invisible) {
        return Err(BadFileName::Invisible);
    }
    if name.starts_with('.') {
        return Err(BadFileName::Dots);
    }
    if name.contains(NOT_ON_WINDOWS) || name.ends_with(['.', ' ']) || name.starts_with(' ') {
        return Err(BadFileName::NotPortable);
    }
    if name.chars().any(odd_space) || name.contains("  ") {
        return Err(BadFileName::Padded);
    }
    if reserved_on_windows(name) {
        return Err(BadFileName::Reserved);
    }
    Ok(())
}

/// The name a sender offers for a local file called `name`: the same where it is safe,
/// otherwise with the unsafe parts replaced, so that it always passes [`check_file_name`].
pub fn clean_file_name(name: &str) -> String {
    // Only the last part of a path is a name.
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let mut clean: String = last
        .chars()
        .filter(|&c| !invisible(c))
        .map(|c| match c {
            c if NOT_ON_WINDOWS.contains(&c) => '_',
            c if odd_space(c) => ' ',
            c => c,
        })
        .collect();
    while clean.contains("  ") {
        clean = clean.replace("  ", " ");
    }
    clean = clean
        .trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' '])
        .to_string();
    if clean.is_empty() {
        clean = "file".into();
    }
    if reserved_on_windows(&clean) {
        clean.insert(0, '_');
    }
    if clean.len() > MAX_FILE_NAME {
        // Keep the extension: it says what the file is.
        let ext = clean
            .rfind('.')
            .map(|i| clean[i..].to_string())
            .filter(|e| e.len() <= 16)
            .unwrap_or_default();
        let mut cut = MAX_FILE_NAME - ext.len();
        while !clean.is_char_boundary(cut) {
            cut -= 1;
        }
        clean = format!("{}{ext}", clean[..cut].trim_end_matches(['.', ' ']));
    }
    clean
}

/// Whether opening a file of this name runs it as a program (or a script, an installer, a
/// shortcut): the person is warned before accepting one.
pub fn runs_as_program(name: &str) -> bool {
    const PROGRAMS: &[&str] = &[
        "exe", "msi", "msix", "appx", "bat", "cmd", "com", "scr", "pif", "cpl", "ps1", "psm1",
        "vbs", "vbe", "js", "jse", "wsf", "wsh", "hta", "lnk", "url", "reg", "jar", "sh", "run",
        "bin", "appimage", "deb", "rpm", "py", "pl", "app", "pkg", "dmg", "command", "iso", "img",
    ];
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| PROGRAMS.iter().any(|p| p.eq_ignore_ascii_case(ext)))
}

/// Why a file did not cross, as the peers tell each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileRefusal {
    /// The person said no.
    Declined,
    /// Larger than the receiving app allows.
    TooLarge,
    /// The session's number of files is used up.
    TooMany,
    /// Too many transfers at once, or offers too fast.
    Busy,
    /// Its name is not one a file may be saved under.
    BadName,
    /// The session is paused.
    Paused,
    /// The receiver has nowhere to save it.
    Unavailable,
    /// What arrived did not match its SHA-256.
    Corrupted,
    /// It could not be read or written.
    Failed,
    /// The other side did not ask for it.
    NotAsked,
    /// The person declined a moment ago: asking again at once is not asked.
    TooSoon,
    /// Nothing of it moved for a long while (not paused): given up.
    Stalled,
}

impl FileRefusal {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Declined => "the other person declined it",
            Self::TooLarge => "it is larger than the receiving computer accepts",
            Self::TooMany => "this session has sent as many files as allowed",
            Self::Busy => "too many files are being sent at once",
            Self::BadName => "its name is not safe to save",
            Self::Paused => "the session is paused",
            Self::Unavailable => "the receiving computer has nowhere to save it",
            Self::Corrupted => "it arrived damaged",
            Self::Failed => "it could not be read or saved",
            Self::NotAsked => "the other side did not ask for a file",
            Self::TooSoon => {
                "the other person declined a moment ago; wait a little before asking again"
            }
            Self::Stalled => "nothing of it arrived for a minute",
        }
    }
}

/// The head of a file stream (after its kind byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHead {
    pub id: u32,
    pub size: u64,
}

impl FileHead {
    /// The stream's first bytes, kind byte included.
    pub fn encode(&self) -> [u8; 1 + FILE_HEAD_LEN] {
        let mut b = [0u8; 1 + FILE_HEAD_LEN];
        b[0] = StreamKind::File.byte();
        b[1..5].copy_from_slice(&self.id.to_be_bytes());
        b[5..13].copy_from_slice(&self.size.to_be_bytes());
        b
    }

    /// Reads the head (the kind byte already read).
    pub async fn read<R: AsyncReadExt + Unpin>(r: &mut R) -> std::io::Result<Self> {
        let id = r.read_u32().await?;
        let size = r.read_u64().await?;
        Ok(Self { id, size })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_refused_and_ordinary_ones_kept() {
        for ok in [
            "report.pdf",
            "Relazione finale (2).docx",
            "фото.jpg",
            "日本語.txt",
            "a",
            "README",
            "console.txt",
            "CONFIG.SYS",
            "COM10",
            "LPT",
            // Its third byte is inside a character: not a device name, and no panic.
            "abé",
        ] {
            assert_eq!(check_file_name(ok), Ok(()), "{ok}");
            assert_eq!(clean_file_name(ok), ok);
        }
        for (bad, why) in [
            ("", BadFileName::Empty),
            ("..", BadFileName::Dots),
            (".", BadFileName::Dots),
            ("../../.bashrc", BadFileName::Path),
            ("/etc/passwd", BadFileName::Path),
            ("C:\\Windows\\win.ini", BadFileName::Path),
            ("sub/dir.txt", BadFileName::Path),
            (".bashrc", BadFileName::Dots),
            ("C:evil", BadFileName::NotPortable),
            ("what?.txt", BadFileName::NotPortable),
            ("trailing.", BadFileName::NotPortable),
            ("trailing ", BadFileName::NotPortable),
            (" leading", BadFileName::NotPortable),
            ("CON", BadFileName::Reserved),
            ("nul.txt", BadFileName::Reserved),
            ("Com1.tar.gz", BadFileName::Reserved),
            ("lpt9", BadFileName::Reserved),
            ("COM¹", BadFileName::Reserved),
            ("invoice\u{202E}fdp.exe", BadFileName::Invisible),
            ("bell\u{7}", BadFileName::Invisible),
            ("line\nbreak", BadFileName::Invisible),
            ("nul\0byte", BadFileName::Invisible),
            ("zero\u{200B}width", BadFileName::Invisible),
            ("line\u{2028}separator", BadFileName::Invisible),
            ("select\u{FE0F}or", BadFileName::Invisible),
            ("invoice.pdf          .exe", BadFileName::Padded),
            ("no\u{00A0}break", BadFileName::Padded),
            ("ideographic\u{3000}space", BadFileName::Padded),
        ] {
            assert_eq!(check_file_name(bad), Err(why), "{bad:?}");
            let clean = clean_file_name(bad);
            assert_eq!(check_file_name(&clean), Ok(()), "{bad:?} → {clean:?}");
        }
        assert_eq!(check_file_name(&"x".repeat(241)), Err(BadFileName::TooLong));
        assert_eq!(
            clean_file_name("invoice.pdf          .exe"),
            "invoice.pdf .exe"
        );
        assert_eq!(clean_file_name("../../.bashrc"), "bashrc");
        assert_eq!(clean_file_name("/home/anna/Scaricati/log.txt"), "log.txt");
        assert_eq!(clean_file_name("C:\\Users\\anna\\log.txt"), "log.txt");
        assert_eq!(clean_file_name("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(clean_file_name("CON.txt"), "_CON.txt");
        assert_eq!(clean_file_name("what?.txt"), "what_.txt");
        assert_eq!(clean_file_name("..."), "file");
        let long = format!("{}.tar.gz", "é".repeat(300));
        let clean = clean_file_name(&long);
        assert!(
            clean.len() <= MAX_FILE_NAME && clean.ends_with(".gz"),
            "{clean}"
        );
        assert_eq!(check_file_name(&clean), Ok(()));
    }

    /// Whatever a sender's file is called, what it offers is a name the receiver takes.
    #[test]
    fn every_cleaned_name_is_accepted() {
        let alphabet: Vec<char> =
            "aZ9 ._-/\\:*?\"<>|\0\n\u{202E}\u{200B}\u{A0}\u{3000}éň日\u{E0041}CONULPT1"
                .chars()
                .collect();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let len = (state % 12) as usize;
            let mut name = String::new();
            for _ in 0..len {
                // xorshift: deterministic and dependency-free.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                name.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let clean = clean_file_name(&name);
            assert_eq!(check_file_name(&clean), Ok(()), "{name:?} → {clean:?}");
        }
    }

    #[test]
    fn programs_are_told_apart_from_documents() {
        for program in ["setup.exe", "fix.SH", "Invoice.pdf.exe", "run.ps1", "x.lnk"] {
            assert!(runs_as_program(program), "{program}");
        }
        for document in ["report.pdf", "photo.jpg", "exe", "notes.txt", "archive.zip"] {
            assert!(!runs_as_program(document), "{document}");
        }
    }

    #[tokio::test]
    async fn the_head_reads_back_and_a_short_one_is_an_error() {
        let head = FileHead {
            id: 7,
            size: 100 * 1024 * 1024,
        };
        let bytes = head.encode();
        assert_eq!(bytes[0], StreamKind::File.byte());
        assert_eq!(FileHead::read(&mut &bytes[1..]).await.expect("read"), head);
        assert!(FileHead::read(&mut &bytes[1..8]).await.is_err());
    }
}
