import QLinear
import QLinearIO
import QLinearLlama

/// libFuzzer target: the GGUF parser (what `inspect`, `generate` and the llama runner read), then
/// what the runner does with an accepted file: tensor lookups, dequantization to Float, conversion
/// to each weight format, the llama hyper-parameters and the BPE tokenizer built from the metadata.
/// Any trap is a bug: bad input must throw.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    guard let g = try? GGUFFile(bytes: bytes) else { return 0 }
    for key in g.metadataKeys.prefix(64) {
        _ = g.metadata[key]?.description
        _ = try? g.int(key); _ = try? g.double(key); _ = try? g.string(key)
    }
    for t in g.tensors.prefix(16) {
        _ = try? g.tensor(t.name)
        guard t.count <= 1 << 16 else { continue }
        _ = try? g.floats(t)
        if let (n, _) = try? t.matrix(), n >= 1 {
            _ = try? g.floats(t, rows: 0..<1)
            for conv in [GGUFConversion.fp16, .q4gsw(groupSize: 32), .q8csw] { _ = try? g.linearWeights(t, as: conv) }
        }
    }
    _ = try? LlamaConfig(gguf: g)
    if let tok = try? BPETokenizer(gguf: g) {
        let ids = tok.encode("Hello, wörld! 123 <|im_start|>  \n\tx", addSpecial: true)
        _ = tok.decode(ids)
        _ = tok.decode([-1, 0, tok.vocabularySize, Int.max])
    }
    return 0
}
