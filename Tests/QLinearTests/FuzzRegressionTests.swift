import Testing
@testable import QLinear
import VulkanRuntime

/// Inputs the libFuzzer targets (Fuzz/, scripts/fuzz.sh) found. The CLI-level cases are in
/// BadInputCLITests; the raw inputs are kept in Fuzz/corpus/<target>/crash-* so every fuzz run
/// replays them.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    /// fuzz-tuning: a tuning table whose cooperative-matrix rule has WM = 0 (or WN = 0) made
    /// `Dispatcher.plan` trap with "Division by zero in remainder operation" on any device with
    /// cooperative matrices (the CLI now rejects such files; the library must skip the rule with a
    /// reason, which it now does).
    @Test("a tuning rule with zero or negative subgroups (or an absurd split-K) is skipped with a reason, never a trap")
    func tuningRuleWithZeroSubgroups() throws {
        var caps = Capabilities(name: "synthetic", kind: .discrete, vendorID: 0x10de, subgroupSize: 32, sharedMemoryBytes: 49152, cooperativeMatrix: true)
        caps.coopMatConfigs = [CoopMatConfig(m: 16, n: 16, k: 16, a: .f16, b: .f16, c: .f32, result: .f32)]
        caps.vulkanMemoryModel = true
        for (wm, wn, split) in [(0, 2, 1), (2, 0, 1), (-1, 2, 1), (1 << 40, 1 << 40, 1), (2, 2, -3), (2, 2, 1 << 50)] {
            let table = TuningTable(name: "t", match: nil, provenance: "fuzz", coopmat: [TuningRule(tile: TileShape(bm: 64, bn: 64, wm: wm, wn: wn), splitK: split)])
            let d = Dispatcher.decide(Problem(op: .fp16, m: 256, n: 256, k: 256), caps: caps, options: DispatchOptions(tuning: table))
            #expect(d.chosen?.kernel != .coopmat)
            #expect(d.why.joined().contains("rule 0"))
        }
    }
}
