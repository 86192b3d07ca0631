import QLinear
import QLinearIO

/// libFuzzer target: the safetensors parser (what `qlinear run` and `quantize` read), then every
/// tensor's conversion to Float and a serialize → parse round trip of what was accepted.
/// Any trap is a bug: bad input must throw.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    guard let st = try? Safetensors.parse(bytes) else { return 0 }
    for (_, t) in st.tensors.sorted(by: { $0.key < $1.key }) {
        _ = try? t.floats()
        _ = try? t.elementCount()
    }
    // Interop: the tensors `qlinear run` looks for, shape checks included.
    _ = try? st.require("x")
    if let again = try? st.serialize() {
        guard let back = try? Safetensors.parse(again) else { fatalError("serialize produced a file parse rejects") }
        precondition(back.tensors.keys.sorted() == st.tensors.keys.sorted(), "round trip changed the tensor names")
        for (k, t) in st.tensors {
            precondition(back.tensors[k]?.data == t.data && back.tensors[k]?.shape == t.shape, "round trip changed tensor \(k)")
        }
    }
    return 0
}
