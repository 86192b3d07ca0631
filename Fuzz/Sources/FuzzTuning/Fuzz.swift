import QLinear
import VulkanRuntime

/// A synthetic device with cooperative matrices (so tuning rules are consulted).
let caps: Capabilities = {
    var c = Capabilities(name: "synthetic H100", kind: .discrete, vendorID: 0x10de, subgroupSize: 32, sharedMemoryBytes: 49152, cooperativeMatrix: true)
    c.coopMatConfigs = [CoopMatConfig(m: 16, n: 16, k: 16, a: .f16, b: .f16, c: .f32, result: .f32),
                        CoopMatConfig(m: 16, n: 16, k: 32, a: .s8, b: .s8, c: .s32, result: .s32)]
    c.vulkanMemoryModel = true
    c.subgroupArithmetic = true
    return c
}()

let problems: [Problem] = [
    Problem(op: .fp16, m: 2048, n: 4096, k: 4096), Problem(op: .q4gsw, m: 1, n: 4096, k: 4096, groupSize: 128),
    Problem(op: .dq8ca_q4gsw, m: 129, n: 70, k: 4096, groupSize: 32, act: .f32, bias: true),
    Problem(op: .dq8ca_q8csw, m: 5, n: 11008, k: 4096, act: .f32),
]

/// libFuzzer target: the tuning-table decoder (`--tuning FILE`, Tuning/*.json) and the
/// dispatcher consulting whatever table it accepted. Bad tables must throw or be skipped with
/// a reason, never trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTuning(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    guard let table = try? TuningTable.decode(bytes) else { return 0 }
    // Rules with out-of-range tiles, K steps or split-K are skipped by the dispatcher with a
    // reason (the WM = 0 trap this target found is fixed); nothing is filtered here.
    var o = DispatchOptions()
    o.tuning = table
    for p in problems {
        let d = Dispatcher.decide(p, caps: caps, options: o)
        _ = d.why
        _ = Dispatcher.decide(p, caps: caps, options: o, force: .coopmat).chosen
        _ = Dispatcher.decide(p, caps: caps, options: o, force: .gemv).chosen
    }
    return 0
}
