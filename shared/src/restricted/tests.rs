use proptest::prelude::*;

use super::*;

const ACCT: &str = "acct-4471-NWF";

fn annex(code: &str, patterns: &[&str]) -> Annex {
    Annex {
        id: AnnexId::new(),
        code: code.into(),
        title: format!("Annex {code}"),
        classification: "tenant-identifiers".into(),
        need_to_know: Vec::new(),
        sensitive: patterns.iter().map(|p| p.to_string()).collect(),
        sensitive_count: patterns.len(),
        content: None,
        salt: None,
        content_hash: "h".into(),
        at_ms: 0,
    }
}

/// The original chars a hit covers.
fn covered(text: &str, h: &Hit) -> String {
    text.chars().skip(h.start).take(h.end - h.start).collect()
}

#[test]
fn bypass_variants_are_found_and_map_back_exactly() {
    let a = annex("A1", &[ACCT]);
    let m = Matcher::new([&a]);
    let variants = [
        "acct-4471-NWF",
        "ACCT-4471-nwf",
        "AcCt-4471-nWf",
        "acct\u{200B}-4471-NWF",
        "a\u{200D}c\u{200C}c\u{FEFF}t-44\u{00AD}71-N\u{2060}WF",
        "ａｃｃｔ－４４７１－ＮＷＦ",
        "acct-𝟒𝟒𝟕𝟏-NWF",
        "acct-\u{1D7D2}\u{1D7D2}\u{1D7D5}\u{1D7CF}-NWF",
        "a\u{FE0F}cct-4471-N\u{E0041}\u{180E}WF",
    ];
    for v in variants {
        let text = format!("Seen «{v}» twice: {v}.");
        let hits = m.find(&text);
        assert_eq!(hits.len(), 2, "{v:?}: {hits:?}");
        for h in &hits {
            assert_eq!(h.annex, a.id);
            assert_eq!(covered(&text, h), v, "hit maps back to the original chars");
        }
        assert_eq!(m.first_annex(&text), Some(a.id));
    }
}

#[test]
fn whitespace_runs_match_a_pattern_with_a_space() {
    let a = annex("A1", &["Tenant  Alpha"]);
    let m = Matcher::new([&a]);
    for v in ["tenant\u{00A0}alpha", "TENANT alpha", "Tenant \t\n Alpha", "tenant\u{3000}\u{200B} alpha"] {
        let text = format!("the {v} case");
        let hits = m.find(&text);
        assert_eq!(hits.len(), 1, "{v:?}");
        assert_eq!(covered(&text, &hits[0]), v);
    }
    assert!(m.find("tenantalpha").is_empty());
}

#[test]
fn unrelated_text_and_near_misses_do_not_match() {
    let a = annex("A1", &[ACCT, "SSR-55810"]);
    let m = Matcher::new([&a]);
    for t in [
        "",
        "Northwind's account was reviewed; relay logs attached.",
        "acct-4471-NW",
        "acct-4472-NWF",
        "acct 4471 NWF",
        "ssr-5581O",
        "аcct-4471-NWF", // Cyrillic а: documented as not caught
    ] {
        assert!(m.find(t).is_empty(), "{t:?}");
        assert_eq!(m.first_annex(t), None);
        assert!(matches!(m.mask(t, |_| true), Cow::Borrowed(_)));
    }
}

#[test]
fn patterns_are_normalised_trimmed_and_empty_ones_skipped() {
    let a = annex("A1", &["", "  ", "\u{200B}", " ＡＢＣ-１ ", "abc-1"]);
    let m = Matcher::new([&a]);
    assert!(!m.is_empty());
    assert_eq!(m.max_pattern_chars(), 5);
    assert_eq!(m.find("x abc-1 y").len(), 1, "duplicate patterns give one hit");
    assert!(Matcher::new([&annex("A2", &["", "\u{00AD}"])]).is_empty());
    assert!(Matcher::new(std::iter::empty()).find("anything").is_empty());
}

#[test]
fn hits_are_sorted_overlapping_and_per_annex() {
    let a1 = annex("A1", &["aba"]);
    let a2 = annex("A2", &["ba"]);
    let m = Matcher::new([&a1, &a2]);
    let hits = m.find("ababa");
    let got: Vec<(usize, usize)> = hits.iter().map(|h| (h.start, h.end)).collect();
    assert_eq!(got, vec![(0, 3), (1, 3), (2, 5), (3, 5)]);
    assert_eq!(m.first_annex("xxbab"), Some(a2.id));
}

#[test]
fn expansion_hits_cover_the_whole_original_char() {
    // U+338F SQUARE KG normalises to "kg": a hit on "g1" covers the whole char.
    let a = annex("A1", &["g1"]);
    let m = Matcher::new([&a]);
    let hits = m.find("5\u{338F}1");
    assert_eq!(hits, vec![Hit { annex: a.id, start: 1, end: 3 }]);
}

#[test]
fn normalise_records_origins() {
    let n = normalise("A\u{200B}  Ｂ\u{FB01}");
    assert_eq!(n.text, "a bfi");
    assert_eq!(n.origins(), &[0, 2, 4, 5, 5]);
}

#[test]
fn masking_keeps_the_char_count_and_masks_exactly_the_hit() {
    let a1 = annex("A1", &[ACCT]);
    let a2 = annex("A2", &["SSR-55810"]);
    let m = Matcher::new([&a1, &a2]);
    let text = "Tenant ａｃｃｔ\u{200B}－４４７１－ＮＷＦ via ssr-55810 ✓";
    let masked = m.mask(text, |a| a == a1.id);
    assert_eq!(masked.chars().count(), text.chars().count());
    let start = "Tenant ".chars().count();
    let len = "ａｃｃｔ\u{200B}－４４７１－ＮＷＦ".chars().count();
    let expected: String =
        text.chars().enumerate().map(|(i, c)| if (start..start + len).contains(&i) { MASK } else { c }).collect();
    assert_eq!(masked, expected);
    assert!(masked.contains("ssr-55810"), "A2 is not hidden");
    assert!(matches!(m.mask(text, |_| false), Cow::Borrowed(_)));
    assert!(m.find(&m.mask(text, |_| true)).is_empty());
}

#[test]
fn mask_json_masks_nested_string_values_not_keys() {
    let a = annex("A1", &[ACCT]);
    let m = Matcher::new([&a]);
    let mut v = serde_json::json!({
        "acct-4471-NWF": "key stays",
        "list": [1, null, true, "ACCT-4471-nwf", {"deep": ["x acct-4471-NWF y"]}],
        "clean": "nothing here",
    });
    assert!(m.mask_json(&mut v, |_| true));
    let bar = MASK.to_string().repeat(ACCT.len());
    assert_eq!(v["list"][3], bar.as_str());
    assert_eq!(v["list"][4]["deep"][0], format!("x {bar} y").as_str());
    assert_eq!(v["clean"], "nothing here");
    assert!(v.get("acct-4471-NWF").is_some(), "keys are left as they are");
    assert!(!m.mask_json(&mut v, |_| true), "nothing left to mask");
    let mut w = serde_json::json!(["acct-4471-NWF"]);
    assert!(!m.mask_json(&mut w, |_| false));
    assert_eq!(w[0], ACCT);
}

#[test]
fn introduced_counts_new_occurrences_only() {
    let a1 = annex("A1", &[ACCT]);
    let a2 = annex("A2", &["SSR-55810"]);
    let m = Matcher::new([&a1, &a2]);
    let before = "old acct-4471-NWF stays";
    assert!(m.introduced(before, "old acct-4471-NWF stays, edited").is_empty());
    assert_eq!(m.introduced(before, "old acct-4471-NWF and ACCT-4471-NWF"), vec![a1.id]);
    assert_eq!(m.introduced(before, "ssr-55810"), vec![a2.id]);
    assert!(m.introduced(before, "").is_empty());
}

#[test]
fn edit_window_sees_through_zero_width_padding() {
    let a = annex("A1", &[ACCT]);
    let m = Matcher::new([&a]);
    let filler = "lorem ipsum ".repeat(8_000);
    let zw = "\u{200B}".repeat(500);
    let spaces = " ".repeat(500);
    let before = format!("{filler}acct{zw}-44{spaces}71-NW{filler}");
    // Insert the final F right after "NW": the zero-width run is far
    // more than max_pattern_chars chars away from the edit.
    let at = format!("{filler}acct{zw}-44{spaces}71-NW").chars().count();
    let after = format!("{filler}acct{zw}-44{spaces}71-NWF{filler}");
    let span = EditSpan { start: at, before_end: at, after_end: at + 1 };
    assert_eq!(EditSpan::between(&before, &after), span);
    // Whitespace inside "44   71" breaks the pattern, so nothing is introduced…
    assert!(m.introduced_in_edit(&before, &after, span).is_empty());
    // …but zero-width chars alone do not.
    let before = format!("{filler}acct{zw}-4471-NW{filler}");
    let at = format!("{filler}acct{zw}-4471-NW").chars().count();
    let after = format!("{filler}acct{zw}-4471-NWF{filler}");
    let span = EditSpan { start: at, before_end: at, after_end: at + 1 };
    assert_eq!(m.introduced_in_edit(&before, &after, span), vec![a.id]);
    assert_eq!(m.introduced(&before, &after), vec![a.id]);
    let (wb, wa) = m.edit_windows(&before, &after, span);
    assert!(wb.len() < 2_000 && wa.len() < 2_000, "the window stays local: {wb:?} {wa:?}");
    // A wrong span falls back to the computed one.
    let wrong = EditSpan { start: 0, before_end: 3, after_end: 1 };
    assert_eq!(m.introduced_in_edit(&before, &after, wrong), vec![a.id]);
    let beyond = EditSpan { start: usize::MAX, before_end: usize::MAX, after_end: usize::MAX };
    assert_eq!(m.introduced_in_edit(&before, &after, beyond), vec![a.id]);
}

#[test]
fn edit_span_between_finds_prefix_and_suffix() {
    assert_eq!(EditSpan::between("abc", "abc"), EditSpan { start: 3, before_end: 3, after_end: 3 });
    assert_eq!(EditSpan::between("aaa", "aaaa"), EditSpan { start: 3, before_end: 3, after_end: 4 });
    assert_eq!(EditSpan::between("xéy", "xy"), EditSpan { start: 1, before_end: 2, after_end: 1 });
    assert_eq!(EditSpan::between("", "ab"), EditSpan { start: 0, before_end: 0, after_end: 2 });
}

#[test]
fn probe_budget_exhausts_and_reopens() {
    let mut b = ProbeBudget::new();
    let t0 = 1_000_000;
    for i in 0..PROBE_LIMIT as i64 - 1 {
        assert!(!b.record(t0 + i * 1_000));
        assert_eq!(b.exhausted(t0 + i * 1_000), None);
    }
    let last = t0 + 60_000;
    assert!(b.record(last), "the fifth refusal exhausts it");
    assert_eq!(b.exhausted(last), Some(PROBE_WINDOW_MS - 60_000));
    assert!(!b.record(last + 1), "already exhausted");
    // Reopens when the oldest of the last PROBE_LIMIT refusals leaves the window.
    let reopen = t0 + 1_000 + PROBE_WINDOW_MS;
    assert!(b.exhausted(reopen - 1).is_some());
    assert_eq!(b.exhausted(reopen), None);
    assert!(b.record(reopen), "one more refusal inside the window exhausts it again");
    // Far in the future, or with a clock that jumped back, the wait stays within the window.
    assert_eq!(b.exhausted(i64::MAX), None);
    assert!(b.exhausted(i64::MIN).is_some_and(|ms| ms <= PROBE_WINDOW_MS));
}

/// Chars that stress normalisation: case, width, mathematical digits,
/// ignorables, spaces of several kinds, expansions ending in a space-like
/// mark, and combining marks.
const ALPHABET: &[char] = &[
    'a', 'c', 't', '-', '4', '7', 'A', 'C', 'x', ' ', ' ', '\n', '\u{00A0}', '\u{3000}', '\u{200B}', '\u{FEFF}',
    '\u{00AD}', 'ａ', 'Ｃ', '４', '𝟒', '－', '\u{00A8}', '\u{338F}', '\u{FB01}', '\u{0301}', 'İ', MASK,
];

fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 0..max).prop_map(|v| v.into_iter().collect())
}

fn patterns() -> impl Strategy<Value = Vec<Vec<String>>> {
    let pattern = prop::collection::vec(prop::sample::select(&ALPHABET[..ALPHABET.len() - 1]), 1..5)
        .prop_map(|v| v.into_iter().collect::<String>());
    prop::collection::vec(prop::collection::vec(pattern, 1..3), 1..4)
}

fn matcher(patterns: &[Vec<String>]) -> (Matcher, Vec<Annex>) {
    let annexes: Vec<Annex> = patterns
        .iter()
        .enumerate()
        .map(|(i, ps)| annex(&format!("A{i}"), &ps.iter().map(String::as_str).collect::<Vec<_>>()))
        .collect();
    (Matcher::new(&annexes), annexes)
}

proptest! {
    #[test]
    fn masking_keeps_length_and_leaves_nothing_to_find(t in text(40), ps in patterns()) {
        let (m, _) = matcher(&ps);
        let masked = m.mask(&t, |_| true);
        prop_assert_eq!(masked.chars().count(), t.chars().count());
        prop_assert!(m.find(&masked).is_empty(), "{:?} -> {:?}", t, masked);
        prop_assert_eq!(m.first_annex(&t), m.find(&t).first().map(|h| h.annex));
    }

    #[test]
    fn hits_cover_text_that_normalises_to_the_pattern(t in text(40), ps in patterns()) {
        let (m, annexes) = matcher(&ps);
        for h in m.find(&t) {
            let covered = normalise(&covered(&t, &h)).text;
            let annex = annexes.iter().find(|a| a.id == h.annex);
            let any = annex.is_some_and(|a| a.sensitive.iter().any(|p| {
                let p = normalise(p).text;
                let p = p.trim();
                covered.contains(p)
            }));
            prop_assert!(any, "{:?} covered {:?}", h, covered);
        }
    }

    #[test]
    fn windowed_introduced_equals_full_introduced(
        before in text(60),
        ps in patterns(),
        at in any::<prop::sample::Index>(),
        del in 0usize..6,
        ins in text(6),
        widen in 0usize..4,
    ) {
        let (m, _) = matcher(&ps);
        let chars: Vec<char> = before.chars().collect();
        let start = at.index(chars.len() + 1);
        let del = del.min(chars.len() - start);
        let after: String = chars[..start].iter().chain(ins.chars().collect::<Vec<_>>().iter()).chain(chars[start + del..].iter()).collect();
        let full = m.introduced(&before, &after);
        // The span the edit describes, the tightest one, and a wider valid one.
        let ins_len = ins.chars().count();
        let given = EditSpan { start, before_end: start + del, after_end: start + ins_len };
        prop_assert_eq!(m.introduced_in_edit(&before, &after, given), full.clone());
        let tight = EditSpan::between(&before, &after);
        prop_assert_eq!(m.introduced_in_edit(&before, &after, tight), full.clone());
        let w = widen.min(tight.start);
        let wide = EditSpan { start: tight.start - w, ..tight };
        prop_assert_eq!(m.introduced_in_edit(&before, &after, wide), full.clone());
        // A wrong span never changes the answer.
        let wrong = EditSpan { start: start + widen, before_end: start, after_end: start + ins_len + widen };
        prop_assert_eq!(m.introduced_in_edit(&before, &after, wrong), full);
    }
}

#[test]
fn look_alikes_differ_from_a_pattern_only_in_its_digits() {
    let m = Matcher::new([&annex("A1", &["acct-4471-NWF", "Bluefin Logistics"])]);
    assert_eq!(m.look_alikes("guess acct-1234-NWF here").len(), 1);
    assert_eq!(m.look_alikes("packed acct-0001-NWFacct-0002-NWF").len(), 1);
    assert_eq!(m.look_alikes("ＡＣＣＴ－１２３４－ＮＷＦ").len(), 1, "normalised first");
    assert!(m.look_alikes("acct-1234-XYZ").is_empty(), "only the digits are free");
    assert!(m.look_alikes("CASE-88412 and TL-0412 and ⟦a1b2c3d4·12⟧").is_empty());
    assert!(m.look_alikes("acct-4471-NWF").is_empty(), "the pattern itself is a hit, not a look-alike");
    assert!(m.look_alikes("Session S-19 opened at 09:14 on ticket 88412.").is_empty());
    assert!(m.look_alikes("Redwood Shipping and others").is_empty(), "name-like patterns have no shape");
}
