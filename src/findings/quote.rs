//! POSIX shell quoting of argv, so that rendered commands run exactly the argv and nothing else.

/// Renders argv as one POSIX shell command line; every word that needs it is single-quoted.
pub fn join(argv: &[String]) -> String {
    argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

/// Quotes one word. Words made only of safe characters stay bare for readability; anything else
/// is single-quoted (with `'` written as `'\''`), which no shell expands.
pub fn quote(word: &str) -> String {
    // shlex's quoting refuses NUL bytes, which cannot appear in argv anyway; fall back to
    // the always-safe single-quote form.
    shlex::try_quote(word)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| format!("'{}'", word.replace('\'', r"'\''")))
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
}
