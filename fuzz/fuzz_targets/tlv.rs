//! Fuzzes `idcheck_core::tlv`: `parse_single` with a tag chosen by the first byte, and the general
//! reader walking every element recursively (children, find, require, raw, collect_all). Oracle
//! beyond "no panic": every decoded value lies inside the input at its stated offset, and
//! re-encoding an element decodes to the same tag and value.
#![no_main]

use idcheck_core::tlv::{self, Reader, Tag};
use libfuzzer_sys::fuzz_target;

const TAGS: [Tag; 10] = [0x30, 0x77, 0x60, 0x61, 0x75, 0x63, 0x6B, 0x6C, 0x6D, 0x5F1F];

fn walk(input: &[u8], mut r: Reader<'_>, depth: usize) {
    if depth > 64 {
        return;
    }
    while !r.is_empty() {
        let Ok(t) = r.next_tlv() else { return };
        let end = t.value_offset + t.value.len();
        assert!(end <= input.len(), "value past the end of the input");
        assert_eq!(&input[t.value_offset..end], t.value, "value_offset does not point at the value");
        assert!(t.offset < t.value_offset, "tag offset after value offset");
        let raw = t.raw(input);
        assert!(raw.ends_with(t.value));
        let re = tlv::encode(t.tag, t.value);
        let back = tlv::parse_single(&re, t.tag).expect("re-encoded element decodes");
        assert_eq!(back.value, t.value);
        if t.is_constructed() {
            let _ = t.children().collect_all();
            let _ = tlv::find(&t, 0x5F1F);
            let _ = tlv::require(&t, 0x80);
            walk(input, t.children(), depth + 1);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let tag = TAGS[usize::from(sel) % TAGS.len()];
    if let Ok(t) = tlv::parse_single(rest, tag) {
        assert_eq!(t.tag, tag);
        assert_eq!(t.value_offset + t.value.len(), rest.len());
    }
    let mut r = Reader::new(rest);
    let _ = r.clone().optional(tag);
    let _ = r.expect(tag);
    walk(rest, Reader::new(rest), 0);
});
