//! Whether a text someone must give (a reason, a rationale) says nothing:
//! empty, whitespace only, or only characters that render as nothing
//! (zero-width spaces and joiners, direction marks, the BOM, variation
//! selectors, tags — the `Default_Ignorable_Code_Point`s the restricted
//! matcher drops too). A rationale of U+200B is no rationale.

use crate::restricted::normalise;

/// True when `text` shows nothing once invisible characters are dropped.
pub fn is_blank(text: &str) -> bool {
    text.trim().is_empty() || normalise(text).text.trim().is_empty()
}

#[cfg(test)]
mod tests {
    use super::is_blank;

    #[test]
    fn whitespace_and_invisible_characters_are_blank() {
        for text in ["", " ", "\n\t ", "\u{200B}", " \u{200D}\u{FEFF} ", "\u{2060}\u{00AD}", "\u{E0041}\u{FE0F}"] {
            assert!(is_blank(text), "{text:?} is blank");
        }
    }

    #[test]
    fn anything_visible_is_not() {
        for text in ["x", " ok ", "\u{200B}a", "é", "Ｗ", "0", "—"] {
            assert!(!is_blank(text), "{text:?} is not blank");
        }
    }
}
