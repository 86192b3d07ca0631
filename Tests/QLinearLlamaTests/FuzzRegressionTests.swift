import Testing
import QLinearIO
import QLinearLlama

/// Found by Fuzz/fuzz-tokenizer: SmolLM2's vocabulary has no single-byte token for some bytes
/// (six ASCII control bytes, and 0xF1 0xF2 — the lead bytes of U+40000…U+BFFFF, unassigned planes;
/// the others never occur in UTF-8), and the
/// tokenizer drops them — as llama.cpp's BPE does (it looks a missing symbol up byte by byte and
/// skips a miss). Pinned so a change of behaviour is deliberate; every other byte round-trips.
@Test func tokenizerDropsBytesWithoutTokens() throws {
    let tok = try SmolLM2.tokenizer.get()
    var single = Set<UInt8>()
    for id in 0..<tok.vocabularySize { let b = tok.bytes(of: id); if b.count == 1 { single.insert(b[0]) } }
    let missing = (0...255).map(UInt8.init).filter { !single.contains($0) }
    #expect(missing == [0x04, 0x06, 0x13, 0x14, 0x16, 0x1D, 0xC0, 0xC1, 0xF1, 0xF2] + Array(0xF5...0xFF))
    // The first fuzz finding: 0x13 inside ASCII text.
    #expect(tok.decode(tok.encode("def 2  #\u{13}comment\n\n\n", parseSpecial: false)) == "def 2  #comment\n\n\n")
    // The second: U+5F3FD (F1 9F 8F BD) — its token bytes are the text's minus the missing ones.
    let text = "a\u{5F3FD}b"
    #expect(tok.encode(text, parseSpecial: false).flatMap { tok.bytes(of: $0) } == Array(text.utf8).filter { single.contains($0) })
    let all = String(decoding: (1..<128).map(UInt8.init).filter { single.contains($0) }, as: UTF8.self)
    #expect(tok.decode(tok.encode(all, parseSpecial: false)) == all)
}
