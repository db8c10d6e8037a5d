//! POSIX shell quoting of argv, so that rendered commands run exactly the argv and nothing else.

/// Renders argv as one POSIX shell command line; every word that needs it is single-quoted.
pub fn join(argv: &[String]) -> String {
    argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

/// Quotes one word. Words made only of safe characters stay bare for readability; anything else
/// is single-quoted (with `'` written as `'\''`), which no shell expands.
pub fn quote(word: &str) -> String {
    if word.chars().any(crate::text::is_hazard) {
        return ansi_c_quote(word);
    }
    // shlex's quoting refuses NUL bytes, which cannot appear in argv anyway; fall back to
    // the always-safe single-quote form.
    shlex::try_quote(word)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| format!("'{}'", word.replace('\'', r"'\''")))
}

/// `$'...'` quoting (POSIX.1-2024, bash, zsh, ksh) for a word holding control or bidi
/// characters: they are written as `\xHH` escapes of their UTF-8 bytes, so the script shows them
/// and the shell still passes the exact bytes to the command.
fn ansi_c_quote(word: &str) -> String {
    let mut out = String::from("$'");
    for c in word.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '\'' => out.push_str(r"\'"),
            c if crate::text::is_hazard(c) => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_words_are_inert() {
        let argv: Vec<String> = [
            "az",
            "acr",
            "update",
            "--name",
            "a b",
            "$(rm -rf /)",
            "it's",
            "`id`",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let line = join(&argv);
        assert!(line.starts_with("az acr update --name "));
        let back = shlex::split(&line).expect("round trips");
        assert_eq!(back, argv);
        assert!(!line.contains(" $(rm"), "{line}");
    }

    #[test]
    fn control_characters_are_quoted_visibly() {
        assert_eq!(quote("a\u{1b}[31m'b\\"), r"$'a\x1b[31m\'b\\'");
        assert_eq!(quote("x\u{202E}y"), r"$'x\xe2\x80\xaey'");
        assert!(!join(&["a\rb".to_string()]).contains('\r'));
    }
}
