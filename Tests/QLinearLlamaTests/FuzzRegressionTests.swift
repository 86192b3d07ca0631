import Testing
import QLinearIO
import QLinearLlama

/// Found by Fuzz/fuzz-tokenizer: SmolLM2's vocabulary has no token for six control bytes, and the
/// tokenizer drops them — as llama.cpp's BPE does (it looks each byte up and skips a miss). Pinned
/// so a change of behaviour is deliberate; every other byte round-trips.
@Test func tokenizerDropsBytesWithoutTokens() throws {
    let tok = try SmolLM2.tokenizer.get()
    let text = "def 2  #\u{13}comment\n\n\n"
    #expect(tok.decode(tok.encode(text, parseSpecial: false)) == "def 2  #comment\n\n\n")
    let dropped = (0..<128).filter { tok.encode(String(decoding: [UInt8($0)], as: UTF8.self), parseSpecial: false).isEmpty }
    #expect(dropped == [0x04, 0x06, 0x13, 0x14, 0x16, 0x1D])
    let all = String(decoding: (1..<128).map(UInt8.init).filter { !dropped.contains(Int($0)) }, as: UTF8.self)
    #expect(tok.decode(tok.encode(all, parseSpecial: false)) == all)
}
