//! Where the sign-in page may send a person afterwards: a path on this site, never anywhere else. Browsers
//! read `/\evil.example` as `//evil.example` and drop tabs and newlines from URLs (`/\t/evil.example`), so only
//! a plain absolute path of printable ASCII without backslashes is kept; anything else becomes `/`.

/// The longest `next` kept.
const MAX_NEXT: usize = 2048;

/// A same-origin relative path from `next`, or `/`.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    let Some(next) = next else { return "/".to_owned() };
    let same_origin_path = next.len() <= MAX_NEXT
        && next.starts_with('/')
        && !next.starts_with("//")
        && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if same_origin_path {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn paths_on_this_site_are_kept() {
        assert_eq!(safe_next(Some("/t/payments/environments?phase=Ready")), "/t/payments/environments?phase=Ready");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn the_known_bypasses_stay_on_the_site() {
        for attack in [
            "//evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "/ /evil.example",
            "https://evil.example",
            "evil.example",
            "javascript:alert(1)",
            "/\u{3000}/evil.example",
            "",
        ] {
            assert_eq!(safe_next(Some(attack)), "/", "{attack:?} kept");
        }
    }
}
