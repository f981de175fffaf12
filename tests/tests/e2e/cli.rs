//! What the packages install from the binary itself: its version, shell completions and
//! manual pages, each checked by the tool that will read it.

use std::process::{Command, Output};

use tandem_tests::{bin, tempdir};

/// Runs `command` to its end; it must succeed.
fn succeeded(command: &mut Command) -> Output {
    let out = command.output().expect("run");
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn tandem(args: &[&str]) -> Output {
    succeeded(Command::new(bin("tandem")).args(args))
}

#[test]
fn version_names_the_release() {
    let out = tandem(&["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("tandem {}", env!("CARGO_PKG_VERSION"))
    );
}

/// bash loads the script and completes `tandem sh` to `share`, and `tandem share --js`
/// to `--json`, through the completion function the script registered.
#[test]
fn bash_completion_loads_and_completes_commands_and_flags() {
    let dir = tempdir::Dir::new("tandem-completion");
    let script = dir.path().join("tandem.bash");
    std::fs::write(&script, tandem(&["completions", "bash"]).stdout).expect("write");
    let complete = |line: &str| {
        let words: Vec<&str> = line.split(' ').collect();
        let probe = format!(
            "source {script}; COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{line}'; \
             COMP_POINT={point}; fn=$(complete -p tandem | sed -E 's/.*-F ([^ ]+).*/\\1/'); \
             $fn tandem '{current}' '{previous}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script = script.display(),
            words = words.join(" "),
            cword = words.len() - 1,
            point = line.len(),
            current = words[words.len() - 1],
            previous = words[words.len() - 2],
        );
        let out = succeeded(Command::new("bash").args(["--norc", "--noprofile", "-c", &probe]));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(complete("tandem sh"), ["share"]);
    assert_eq!(complete("tandem share --js"), ["--json"]);
}

#[test]
fn every_shell_gets_a_script() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = tandem(&["completions", shell]);
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("assist") && script.contains("share"),
            "{shell}: {script}"
        );
    }
}

/// The pages render with man's own formatter (groff), without warnings, and say what
/// `tandem share` takes.
#[test]
fn manual_pages_render_for_every_command() {
    let dir = tempdir::Dir::new("tandem-man");
    tandem(&["man", "--dir", dir.path().to_str().expect("path")]);
    let mut pages: Vec<String> = std::fs::read_dir(dir.path())
        .expect("pages")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for page in [
        "tandem.1",
        "tandem-assist.1",
        "tandem-share.1",
        "tandem-man.1",
    ] {
        assert!(pages.iter().any(|p| p == page), "{page} in {pages:?}");
    }
    let share = Command::new("groff")
        // -k: UTF-8 input through preconv, as man runs it.
        .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
        .arg(dir.path().join("tandem-share.1"))
        .output()
        .expect("groff");
    assert!(
        share.status.success() && share.stderr.is_empty(),
        "groff: {}",
        String::from_utf8_lossy(&share.stderr)
    );
    let text = Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-P-cbou"])
        .arg(dir.path().join("tandem-share.1"))
        .output()
        .expect("groff");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("ABC-DEF-GHJ"), "{text}");

    // Without --dir: the main page on stdout.
    let main = tandem(&["man"]);
    assert!(String::from_utf8_lossy(&main.stdout).contains(".TH tandem 1"));
}
