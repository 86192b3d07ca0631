import ArgumentParser
import QLinear

/// libFuzzer target: the CLI's own parsers — `--shape MxNxK`, shapes files, `--tile`, `--gemv`
/// (Sources/qlinear/Support.swift, compiled in through a symlink). Properties: never trap; an
/// accepted shape prints back as text that parses to the same shape; accepted values are in range.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCLI(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let text = String(decoding: bytes, as: UTF8.self)
    if let s = try? Shape(parsing: text) {
        precondition(s.m > 0 && s.n > 0 && s.k > 0, "non-positive shape \(s) from \(text.debugDescription)")
        precondition((try? Shape(parsing: s.description)) == s, "shape \(s) does not round-trip")
    }
    if let list = try? parseShapesList(text, source: "fuzz") {
        precondition(!list.isEmpty && list.allSatisfy { $0.m > 0 && $0.n > 0 && $0.k > 0 })
    }
    if let t = try? DeviceOptions.parseTile(text) {
        precondition([t.bm, t.bn, t.wm, t.wn].allSatisfy { $0 > 0 }, "tile \(t) from \(text.debugDescription)")
    }
    if let g = try? DeviceOptions.parseGemv(text) {
        precondition(g.columns > 0 && g.threads > 0 && g.unroll > 0)
    }
    return 0
}
