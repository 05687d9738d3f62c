//! What the editor highlights in a section body: statement labels
//! (`[verified: TL-0412]`), the evidence references inside them, annex
//! references (`[[annex:A1]]`), headings, and paragraphs with no label
//! (material statements without evidence). Ranges are char offsets.

use trustroom_shared::statement::{StatementLabel, statements};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HlKind {
    Verified,
    Contested,
    Restricted,
    Residual,
    Evidence,
    AnnexRef,
    Heading,
    /// The text of a paragraph with no label.
    Unsupported,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Highlight {
    pub start: usize,
    pub end: usize,
    pub kind: HlKind,
}

/// Highlights for `text`, sorted by start; later entries paint over
/// earlier ones where they overlap.
pub fn highlights(text: &str) -> Vec<Highlight> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    for st in statements(text) {
        let para_end = (st.start + st.len).min(chars.len());
        let para: String = chars[st.start..para_end].iter().collect();
        // Skip leading whitespace the parser trims.
        let lead = para.chars().take_while(|c| c.is_whitespace()).count();
        let start = st.start + lead;
        let body: String = para.chars().skip(lead).collect();
        let label_len = body.find(']').map(|b| body[..=b].chars().count());
        let kind = match &st.label {
            StatementLabel::Verified { .. } => Some(HlKind::Verified),
            StatementLabel::Contested { .. } => Some(HlKind::Contested),
            StatementLabel::Restricted => Some(HlKind::Restricted),
            StatementLabel::AcceptedResidual => Some(HlKind::Residual),
            StatementLabel::Heading => {
                let first_line = body.chars().take_while(|c| *c != '\n').count();
                out.push(Highlight { start, end: start + first_line, kind: HlKind::Heading });
                None
            }
            StatementLabel::Unlabeled => {
                out.push(Highlight { start, end: para_end, kind: HlKind::Unsupported });
                None
            }
        };
        if let (Some(kind), Some(len)) = (kind, label_len) {
            out.push(Highlight { start, end: start + len, kind });
            if let StatementLabel::Verified { evidence } = &st.label {
                let label: String = chars[start..start + len].iter().collect();
                for ev in evidence {
                    if let Some(b) = label.find(ev.as_str()) {
                        let s = start + label[..b].chars().count();
                        out.push(Highlight { start: s, end: s + ev.chars().count(), kind: HlKind::Evidence });
                    }
                }
            }
        }
    }
    // Annex references anywhere.
    let mut search_from = 0usize;
    while let Some(b) = text[search_from..].find("[[annex:") {
        let abs = search_from + b;
        match text[abs..].find("]]") {
            Some(e) => {
                let s = text[..abs].chars().count();
                let n = text[abs..abs + e + 2].chars().count();
                out.push(Highlight { start: s, end: s + n, kind: HlKind::AnnexRef });
                search_from = abs + e + 2;
            }
            None => break,
        }
    }
    out.sort_by_key(|h| h.start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_evidence_and_annex_refs() {
        let text = "# Timeline\n\n[verified: TL-0412, SL-0088] Opened at 09:14.\n\nNo label here.\n\n[restricted] See [[annex:A1]].";
        let h = highlights(text);
        let show = |k: HlKind| -> Vec<String> {
            h.iter()
                .filter(|x| x.kind == k)
                .map(|x| text.chars().skip(x.start).take(x.end - x.start).collect())
                .collect()
        };
        assert_eq!(show(HlKind::Heading), vec!["# Timeline"]);
        assert_eq!(show(HlKind::Verified), vec!["[verified: TL-0412, SL-0088]"]);
        assert_eq!(show(HlKind::Evidence), vec!["TL-0412", "SL-0088"]);
        assert_eq!(show(HlKind::Unsupported), vec!["No label here."]);
        assert_eq!(show(HlKind::Restricted), vec!["[restricted]"]);
        assert_eq!(show(HlKind::AnnexRef), vec!["[[annex:A1]]"]);
    }
}
