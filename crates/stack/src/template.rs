//! Configuration files are templates under `crates/stack/templates/`, compiled in and filled with
//! `{{name}}` placeholders: the file reads as the server's own format, not as Rust strings.

/// `text` with every `{{key}}` replaced by its value.
///
/// Panics when a placeholder is left unfilled or a value names no placeholder: both are bugs in
/// the stack's definition, which the crate's tests catch by writing every template.
pub fn fill(name: &str, text: &str, values: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (key, value) in values {
        let placeholder = format!("{{{{{key}}}}}");
        assert!(
            out.contains(&placeholder),
            "template {name} has no placeholder {placeholder}"
        );
        out = out.replace(&placeholder, value);
    }
    if let Some(start) = out.find("{{") {
        let rest = &out[start..];
        let end = rest.find("}}").map_or(rest.len(), |i| i + 2);
        panic!("template {name} left {} unfilled", &rest[..end]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fill;

    #[test]
    fn fills_every_placeholder() {
        let text = fill("t", "a={{a}} b={{b}} a={{a}}", &[("a", "1"), ("b", "2")]);
        assert_eq!(text, "a=1 b=2 a=1");
    }

    #[test]
    #[should_panic(expected = "left {{b}} unfilled")]
    fn an_unfilled_placeholder_is_a_bug() {
        fill("t", "a={{a}} b={{b}}", &[("a", "1")]);
    }

    #[test]
    #[should_panic(expected = "no placeholder {{c}}")]
    fn a_value_without_placeholder_is_a_bug() {
        fill("t", "a={{a}}", &[("a", "1"), ("c", "3")]);
    }
}
